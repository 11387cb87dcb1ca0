// Resource limits in rootless mode (rootless/cgroups.ts): dropped, and said once per project.
import test from 'ava';
import { applicableResources, withoutLimits } from '../../src/engine/rootless/cgroups.js';

test('cgroup limits are taken out; shm size and the OOM score stay', (t) => {
  t.deepEqual(withoutLimits({ memory: 64 << 20, cpus: 0.5, pids: 10, shmSize: 1 << 20, oomScoreAdj: 100 }), {
    kept: { shmSize: 1 << 20, oomScoreAdj: 100 },
    dropped: ['memory', 'cpus', 'pids'],
  });
  t.deepEqual(withoutLimits({}), { kept: {}, dropped: [] });
});

test('as root nothing changes; rootless says it once per project, naming the limits', (t) => {
  const said: string[] = [];
  const warn = (m: string) => said.push(m);
  const r = { memory: 1 << 26, shmSize: 1 };
  t.is(applicableResources(r, 'p1', warn, false), r);
  t.deepEqual(said, []);
  t.deepEqual(applicableResources(r, 'p1', warn, true), { shmSize: 1 });
  t.deepEqual(applicableResources({ pids: 5 }, 'p1', warn, true), {});
  t.deepEqual(applicableResources({ cpus: 1 }, 'p2', warn, true), {});
  t.deepEqual(applicableResources({ shmSize: 1 }, 'p3', warn, true), { shmSize: 1 });
  t.is(said.length, 2);
  t.regex(said[0], /^project p1: resource limits are not applied in rootless mode \(asked for: memory\)/);
  t.regex(said[1], /^project p2: .*asked for: cpus/);
});
