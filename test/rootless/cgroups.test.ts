// Resource limits in rootless mode (rootless/cgroups.ts): which subtree is delegated, which
// controllers containers get below it, the limits kept and the ones named as not applied.
// Pure parts with literals; the facts read from a fake cgroup tree (plain files in a temp dir).
import test from 'ava';
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ownOnly } from '../../src/engine/runtime/cgroup-stats.js';
import { applicableResources, cgroup2Mount, cgroupFacts, containerCgroupPath, delegation, withoutLimits, type CgroupDir, type Delegation } from '../../src/engine/rootless/cgroups.js';

const dir = (path: string, o: Partial<CgroupDir> = {}): CgroupDir => ({ path, delegated: true, controllers: [], subtreeControl: [], hasProcs: false, ...o });
const none: Delegation = { usable: new Set(), missing: new Map([['*', 'no cgroup v2 subtree is delegated to you']]) };

test('cgroup limits without their controller are taken out; shm size and the OOM score stay', (t) => {
  t.deepEqual(withoutLimits({ memory: 64 << 20, cpus: 0.5, pids: 10, shmSize: 1 << 20, oomScoreAdj: 100 }), {
    kept: { shmSize: 1 << 20, oomScoreAdj: 100 },
    dropped: ['memory', 'cpus', 'pids'],
  });
  t.deepEqual(withoutLimits({}), { kept: {}, dropped: [] });
  t.deepEqual(withoutLimits({ memory: 1, memoryReservation: 2, cpus: 1, cpuset: '0', pids: 3 }, new Set(['memory', 'pids'])), {
    kept: { memory: 1, memoryReservation: 2, pids: 3 },
    dropped: ['cpus', 'cpuset'],
  });
});

test('as root nothing changes; rootless says once per project which limits are not applied, and why', (t) => {
  const said: string[] = [];
  const warn = (m: string) => said.push(m);
  const d = () => none;
  const r = { memory: 1 << 26, shmSize: 1 };
  t.is(applicableResources(r, 'p1', warn, false, d), r);
  t.deepEqual(said, []);
  t.deepEqual(applicableResources(r, 'p1', warn, true, d), { shmSize: 1 });
  t.deepEqual(applicableResources({ memory: 1 << 20 }, 'p1', warn, true, d), {});
  t.deepEqual(applicableResources({ cpus: 1 }, 'p2', warn, true, d), {});
  t.deepEqual(applicableResources({ shmSize: 1 }, 'p3', warn, true, d), { shmSize: 1 });
  t.deepEqual(applicableResources({ pids: 5 }, 'p1', warn, true, d), {}, 'another limit of p1: said too');
  t.deepEqual(said, [
    'project p1: resource limits are not applied in rootless mode (asked for: memory): no cgroup v2 subtree is delegated to you',
    'project p2: resource limits are not applied in rootless mode (asked for: cpus): no cgroup v2 subtree is delegated to you',
    'project p1: resource limits are not applied in rootless mode (asked for: pids): no cgroup v2 subtree is delegated to you',
  ]);
});

test('delegation: the topmost directory the user owns, the controllers it has and may pass on', (t) => {
  // systemd: the terminal's scope and user@1000.service are the user's, user-1000.slice is root's
  const svc = '/user.slice/user-1000.slice/user@1000.service';
  const d = delegation({
    mount: '/sys/fs/cgroup',
    chain: [
      dir(`${svc}/app.slice/vte.scope`, { controllers: ['memory', 'pids'], hasProcs: true }),
      dir(`${svc}/app.slice`, { controllers: ['memory', 'pids'], subtreeControl: ['memory', 'pids'] }),
      dir(svc, { controllers: ['cpu', 'memory', 'pids'], subtreeControl: ['memory', 'pids'] }),
      dir('/user.slice/user-1000.slice', { delegated: false, controllers: ['cpu', 'cpuset', 'io', 'memory', 'pids'], subtreeControl: ['cpu', 'memory', 'pids'] }),
      dir('/user.slice', { delegated: false }),
    ],
  });
  t.is(d.base, svc);
  t.deepEqual([...d.usable].sort(), ['cpu', 'memory', 'pids'], 'cpu is delegated and can be enabled: user@1000.service holds no process');
  t.regex(d.missing.get('cpuset')!, /^the cpuset controller is not delegated to \/user\.slice\/user-1000\.slice\/user@1000\.service \(its cgroup\.controllers: cpu memory pids; .*Delegate=cpu cpuset io memory pids/);
  t.is(containerCgroupPath(undefined, 'abc', true, () => d), `${svc}/tsstack/abc`);
  t.is(containerCgroupPath('/my.slice', 'abc', true, () => d), `${svc}/my.slice/abc`);
  t.is(containerCgroupPath(undefined, 'abc', false, () => d), 'tsstack/abc', 'as root: relative, as before');
  t.is(containerCgroupPath(undefined, 'abc', true, () => none), 'tsstack/abc');

  // tsstack runs in the delegated directory itself: what is not enabled there already cannot be
  const busy = delegation({ mount: '/sys/fs/cgroup', chain: [dir('/d', { controllers: ['memory', 'pids'], subtreeControl: ['pids'], hasProcs: true })] });
  t.deepEqual([...busy.usable], ['pids']);
  t.regex(busy.missing.get('memory')!, /^\/d holds processes, and cgroup v2 enables no controller below a cgroup with processes of its own/);

  t.regex(delegation({ mount: '/sys/fs/cgroup', chain: [dir('/user.slice/user-1000.slice/session-2.scope', { delegated: false })] }).missing.get('*')!,
    /^no cgroup v2 subtree is delegated to you \(tsstack runs in \/user\.slice\/user-1000\.slice\/session-2\.scope, which belongs to root\): .*systemd-run --user --scope -p Delegate=yes/);
  t.regex(delegation({ chain: [] }).missing.get('*')!, /no cgroup v2 hierarchy/);
  t.regex(delegation({ mount: '/sys/fs/cgroup', chain: [] }).missing.get('*')!, /root of the cgroup v2 hierarchy/);
});

test('cgroup2Mount: the hierarchy root mounted, pure or hybrid, not a bind of a subdirectory', (t) => {
  const line = (root: string, at: string, fs: string) => `30 25 0:26 ${root} ${at} rw,relatime shared:5 - ${fs} ${fs} rw`;
  t.is(cgroup2Mount([line('/', '/sys/fs/cgroup', 'cgroup2')].join('\n')), '/sys/fs/cgroup');
  t.is(cgroup2Mount([line('/', '/sys/fs/cgroup/memory', 'cgroup'), line('/sub', '/x', 'cgroup2'), line('/', '/sys/fs/cgroup/unified', 'cgroup2')].join('\n')), '/sys/fs/cgroup/unified');
  t.is(cgroup2Mount(line('/', '/sys/fs/cgroup/cpu', 'cgroup')), undefined);
});

test('cgroupFacts on a fake tree: owners, controllers, processes, read upwards from the own cgroup', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'tsstack-fake-cg-'));
  try {
    const me = 4242; // the user as the reading process sees them
    const mk = (rel: string, o: { owner: number; controllers: string; subtree: string; procs: string }) => {
      const d = join(root, rel);
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'cgroup.controllers'), `${o.controllers}\n`);
      writeFileSync(join(d, 'cgroup.subtree_control'), `${o.subtree}\n`);
      writeFileSync(join(d, 'cgroup.procs'), o.procs);
      for (const p of [d, join(d, 'cgroup.procs'), join(d, 'cgroup.subtree_control')]) chownSync(p, o.owner, o.owner);
    };
    mk('a', { owner: 0, controllers: 'cpu memory pids', subtree: 'memory pids', procs: '' });
    mk('a/b', { owner: me, controllers: 'memory pids', subtree: 'memory', procs: '' });
    mk('a/b/c', { owner: me, controllers: 'memory', subtree: '', procs: '17\n18\n' });
    const f = cgroupFacts(me, { mount: root, own: '/a/b/c' });
    t.deepEqual(f.chain.map((c) => [c.path, c.delegated, c.controllers.join(' '), c.subtreeControl.join(' '), c.hasProcs]), [
      ['/a/b/c', true, 'memory', '', true],
      ['/a/b', true, 'memory pids', 'memory', false],
      ['/a', false, 'cpu memory pids', 'memory pids', false],
    ]);
    const d = delegation(f);
    t.is(d.base, '/a/b');
    t.deepEqual([...d.usable].sort(), ['memory', 'pids']);
    const said: string[] = [];
    t.deepEqual(applicableResources({ memory: 64 << 20, memorySwap: 128 << 20, pids: 50, cpus: 0.5, shmSize: 1 }, 'p', (m) => said.push(m), true, () => d),
      { memory: 64 << 20, memorySwap: 128 << 20, pids: 50, shmSize: 1 }, 'memory and pids limits are kept: the runtime writes them below /a/b');
    t.is(said.length, 1);
    t.regex(said[0], /\(asked for: cpus\): the cpu controller is not delegated to \/a\/b \(its cgroup\.controllers: memory pids;/);
    // a subtree_control file another user owns: not delegated, however the directory is owned
    chownSync(join(root, 'a/b/c/cgroup.subtree_control'), 0, 0);
    t.false(cgroupFacts(me, { mount: root, own: '/a/b/c' }).chain[0].delegated);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('ownOnly: a container is read only where the cgroup is its own (rootless: not the user\'s or the host\'s)', (t) => {
  const id = 'f00d';
  // rootless on a hybrid host, delegated v2 subtree: the v1 lines are the user's (or the root)
  t.deepEqual(ownOnly({ v1: { memory: '/process_api/x', pids: '/' }, v2: '/d/tsstack/f00d' }, id), { v1: {}, v2: '/d/tsstack/f00d' });
  // init moved on into a child of its cgroup (systemd in a container): cut to the container's
  t.deepEqual(ownOnly({ v1: { pids: '/tsstack/f00d/init.scope' }, v2: '/tsstack/f00d' }, id), { v1: { pids: '/tsstack/f00d' }, v2: '/tsstack/f00d' });
  t.deepEqual(ownOnly({ v1: { pids: '/tsstack/f00dx' }, v2: '/' }, id), { v1: {}, v2: undefined }, 'no cgroup of its own: nothing');
  const all = { v1: { pids: '/' }, v2: '/' };
  t.is(ownOnly(all), all);
});
