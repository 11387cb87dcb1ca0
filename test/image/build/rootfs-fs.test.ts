import test from 'ava';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveChown, resolveInRoot, resolveUser } from '../../../src/engine/image/build/rootfs-fs.js';
import { makeTemp, rmTemp } from '../../helpers/rootfs.js';

test('paths resolve inside the root, whatever the symlinks say', (t) => {
  const r = makeTemp();
  try {
    mkdirSync(join(r, 'usr/bin'), { recursive: true });
    symlinkSync('usr/bin', join(r, 'bin'));
    symlinkSync('/etc', join(r, 'etcabs'));
    symlinkSync('../../../../..', join(r, 'up'));
    t.is(resolveInRoot(r, '/bin/sh'), join(r, 'usr/bin/sh'));
    t.is(resolveInRoot(r, '/etcabs/passwd'), join(r, 'etc/passwd'));
    t.is(resolveInRoot(r, '/up/etc/shadow'), join(r, 'etc/shadow'));
    t.is(resolveInRoot(r, '../../x'), join(r, 'x'));
    t.is(resolveInRoot(r, '/bin', false), join(r, 'bin'));
  } finally { rmTemp(r); }
});

test('users and groups come from the root\'s databases', (t) => {
  const r = makeTemp();
  try {
    mkdirSync(join(r, 'etc'));
    writeFileSync(join(r, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n');
    writeFileSync(join(r, 'etc/group'), 'root:x:0:\nstaff:x:50:app\napp:x:1001:\n');
    t.deepEqual(resolveUser(r, ''), { uid: 0, gid: 0, additionalGids: [], home: '/root' });
    t.deepEqual(resolveUser(r, 'app'), { uid: 1000, gid: 1001, additionalGids: [50], home: '/home/app' });
    t.deepEqual(resolveUser(r, 'app:staff'), { uid: 1000, gid: 50, additionalGids: [], home: '/home/app' });
    t.deepEqual(resolveUser(r, '4242'), { uid: 4242, gid: 0, additionalGids: [], home: '/' });
    t.throws(() => resolveUser(r, 'ghost'), { message: /unable to find user ghost/ });
    t.deepEqual(resolveChown(r, '7:8'), { uid: 7, gid: 8 });
    t.deepEqual(resolveChown(r, '7'), { uid: 7, gid: 7 });
    t.deepEqual(resolveChown(r, 'app'), { uid: 1000, gid: 1001 });
    t.deepEqual(resolveChown(r, 'app:root'), { uid: 1000, gid: 0 });
  } finally { rmTemp(r); }
});
