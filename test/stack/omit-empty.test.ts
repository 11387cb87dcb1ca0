// A key interpolated to "" where "" means nothing is dropped as if unset (Compose's
// behaviour: `platform: ${DOCKER_PLATFORM:-}` in Sentry self-hosted), not refused.
import test from 'ava';
import { join } from 'node:path';
import { loadStack } from '../../src/stack/load.js';
import { project } from './helpers.js';

const KEYS = ['platform', 'container_name', 'restart', 'pull_policy', 'stop_grace_period', 'mem_limit', 'memswap_limit', 'mem_reservation',
  'cpus', 'cpu_shares', 'cpu_quota', 'cpu_period', 'shm_size', 'pids_limit', 'cgroup_parent', 'oom_score_adj', 'cgroup', 'scale'];

for (const key of KEYS) {
  test(`${key}: \${EMPTY:-} is the same as not written`, async (t) => {
    const dir = project(t, { 'compose.yaml': `services:\n  a:\n    image: a\n    ${key}: \${EMPTY:-}\n` });
    const plain = project(t, { 'compose.yaml': 'services:\n  a:\n    image: a\n' });
    const m = await loadStack({ files: [join(dir, 'compose.yaml')], env: {}, projectName: 'p' });
    const n = await loadStack({ files: [join(plain, 'compose.yaml')], env: {}, projectName: 'p' });
    t.deepEqual(m.services.a, n.services.a);
  });
}

test('nested keys too (healthcheck, deploy, build); an empty entrypoint still clears the image\'s', async (t) => {
  const dir = project(t, { 'compose.yaml': 'services:\n  a:\n    image: a\n    entrypoint: ""\n    healthcheck:\n      test: ["CMD", "true"]\n      interval: ${E:-}\n    deploy:\n      replicas: ${E:-}\n      resources:\n        limits:\n          memory: ${E:-}\n    build:\n      context: .\n      target: ${E:-}\n' });
  const m = await loadStack({ files: [join(dir, 'compose.yaml')], env: {}, projectName: 'p' });
  t.deepEqual(m.services.a!.entrypoint, []);
  t.is(m.services.a!.build?.target, undefined);
});

test('a non-empty bad value is still refused at its line', async (t) => {
  const dir = project(t, { 'compose.yaml': 'services:\n  a:\n    image: a\n    platform: ${P:-wrong}\n' });
  await t.throwsAsync(loadStack({ files: [join(dir, 'compose.yaml')], env: {} }), { message: /platform "wrong" is not os\/arch/ });
});
