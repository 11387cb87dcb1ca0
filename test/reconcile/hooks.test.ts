// post_start / pre_stop in the desired state: hashed like the rest of the service's config (a change
// recreates, as Compose's hash), unset leaves existing hashes alone, and the engine's create spec.
import test from 'ava';
import { createSpec, desiredState } from '../../src/reconcile/desired.js';
import type { ServiceSpec } from '../../src/model/types.js';
import { model } from './_model.js';

function one(s: Partial<ServiceSpec>) {
  const d = desiredState(model('p', { web: { image: 'busybox', ...s } }), {});
  const svcD = d.services.web!;
  return { c: svcD.containers[0]!, spec: createSpec('p', svcD.containers[0]!, svcD) };
}

test('unset hooks leave the hash as it was', (t) => {
  const base = one({});
  t.is(one({ post_start: [], pre_stop: [] }).c.hash, base.c.hash);
  t.false('post_start' in base.c.config || 'pre_stop' in base.c.config);
  t.false('postStart' in base.spec || 'preStop' in base.spec);
});

test('a change of any hook field recreates', (t) => {
  const base = one({}).c.hash;
  const variants: Partial<ServiceSpec>[] = [
    { post_start: [{ command: ['true'] }] },
    { pre_stop: [{ command: ['true'] }] },
    { post_start: [{ command: ['false'] }] },
    { post_start: [{ command: ['true'], user: 'nobody' }] },
    { post_start: [{ command: ['true'], privileged: true }] },
    { post_start: [{ command: ['true'], working_dir: '/srv' }] },
    { post_start: [{ command: ['true'], environment: { A: '1' } }] },
    { post_start: [{ command: ['true'] }, { command: ['true'] }] },
  ];
  const hashes = variants.map((v) => one(v).c.hash);
  for (const [i, h] of hashes.entries()) t.not(h, base, JSON.stringify(variants[i]));
  t.is(new Set(hashes).size, hashes.length);
});

test('the create spec carries the hooks as the engine runs them', (t) => {
  const { spec } = one({
    post_start: [{ command: ['sh', '-c', 'echo hi'], user: '1000', privileged: true, working_dir: '/srv', environment: { Z: 'z', A: 'a' } }],
    pre_stop: [{ command: ['echo', 'bye'] }],
  });
  t.deepEqual(spec.postStart, [{ argv: ['sh', '-c', 'echo hi'], user: '1000', privileged: true, cwd: '/srv', env: ['A=a', 'Z=z'] }]);
  t.deepEqual(spec.preStop, [{ argv: ['echo', 'bye'] }]);
});
