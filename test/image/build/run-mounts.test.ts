import test from 'ava';
import { parseRunMount } from '../../../src/engine/image/build/run-mounts.js';

test('cache mounts: id defaults to the target; mode, uid, gid, ro', (t) => {
  t.deepEqual(parseRunMount('type=cache,target=/root/.cache/pip'), { type: 'cache', target: '/root/.cache/pip', id: '/root/.cache/pip', readonly: false, mode: 0o755, uid: 0, gid: 0 });
  t.like(parseRunMount('type=cache,id=go,dst=/go/pkg,mode=0700,uid=1000,gid=1000,sharing=locked,ro'), { id: 'go', target: '/go/pkg', mode: 0o700, uid: 1000, readonly: true });
});

test('bind mounts are read-only, from the context or a stage', (t) => {
  t.deepEqual(parseRunMount('target=/src'), { type: 'bind', target: '/src', source: '/', readonly: true });
  t.deepEqual(parseRunMount('type=bind,from=build,source=/out,target=/in'), { type: 'bind', target: '/in', source: '/out', from: 'build', readonly: true });
  t.throws(() => parseRunMount('type=bind,target=/x,rw'), { message: /writable bind mounts are not supported/ });
});

test('tmpfs; refused and malformed specs', (t) => {
  t.deepEqual(parseRunMount('type=tmpfs,target=/t,size=10m'), { type: 'tmpfs', target: '/t', size: 10 * 1024 * 1024 });
  t.throws(() => parseRunMount('type=secret,id=x'), { message: /type=secret is not supported/ });
  t.throws(() => parseRunMount('type=cache'), { message: /target is required/ });
  t.throws(() => parseRunMount('type=cache,target=rel'), { message: /absolute/ });
  t.throws(() => parseRunMount('type=cache,target=/x,bogus=1'), { message: /unknown key "bogus"/ });
  t.throws(() => parseRunMount('type=nfs,target=/x'), { message: /unknown mount type/ });
  t.throws(() => parseRunMount('type=cache,target=/x,mode=999'), { message: /invalid value for mode/ });
});
