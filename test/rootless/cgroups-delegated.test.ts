// A cgroup v2 subtree delegated to an ordinary user, on the real kernel: the test
// makes a directory in the cgroup2 hierarchy and gives it to its test user as
// systemd's Delegate=yes does (the directory and its cgroup.procs,
// cgroup.subtree_control, cgroup.threads chowned), and starts the user's tsstack
// in it. Containers get cgroups of their own below it, `stats` and `top` read
// them (not the user's or the host's), `down` removes them; the limits the stack
// asks for are named as not applied, with why, once (this host delegates no
// memory, cpu or pids controller: a hybrid host's v2 tree has hugetlb only).
// With controllers present the limits are written there (tests with a fake tree:
// cgroups.test.ts for the choice, runtime-cgroups.test.ts for the files).
import { chownSync, existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxTar, chownTree, tsstack } from './_cli.js';
import { skipWhen } from '../helpers/skip.js';
import { makeUser, rootlessTest, type TestUser } from './_user.js';

/** The cgroup2 hierarchy's mount point (its root mounted), from mountinfo. */
const mount = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' - '))
  .find(([pre, post]) => post?.startsWith('cgroup2 ') && pre.split(' ')[3] === '/')?.[0].split(' ')[4];
const test = mount ? rootlessTest : skipWhen(true, 'no cgroup2 hierarchy on this host');

/** A fresh cgroup below this process's own, delegated to `u`. */
function delegatedCgroup(u: TestUser): string {
  const own = /^0::(\/.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))![1];
  const dir = join(mount!, own, `tsrl-cg-${process.pid}-${Math.floor(Math.random() * 1e6)}`);
  mkdirSync(dir);
  for (const p of [dir, ...['cgroup.procs', 'cgroup.subtree_control', 'cgroup.threads'].map((f) => join(dir, f))]) chownSync(p, u.uid, u.gid);
  return dir;
}

/** The cgroup directories below `dir`, deepest first. */
function subdirs(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    out.push(...subdirs(join(dir, e.name)), join(dir, e.name));
  }
  return out;
}

/** Removes `dir` and what is below it (its processes are gone: the user's were killed). */
function removeCgroupTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const d of [...subdirs(dir), dir]) {
    for (let i = 0; i < 50; i++) {
      try {
        rmdirSync(d);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') break;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      }
    }
  }
}

const STACK = `services:
  sleeper:
    image: bb:1
    network_mode: none
    command: ["sh", "-c", "sleep 300 & wait"]
    mem_limit: 64m
    cpus: 0.5
    pids_limit: 50
`;

test.serial('a delegated cgroup v2 subtree: containers get their own cgroups below it, stats/top read them, down removes them, limits not delegated are named', (t) => {
  const u = makeUser();
  let cg = '';
  try {
    cg = delegatedCgroup(u);
    const rel = cg.slice(mount!.length);
    // the user's tsstack starts in the delegated cgroup (as from a delegated systemd scope)
    const wrap = ['sh', '-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', cg];
    const proj = join(u.home, 'proj');
    mkdirSync(proj, { recursive: true });
    writeFileSync(join(proj, 'compose.yaml'), STACK);
    chownTree(u.home, u);
    const tar = busyboxTar(u, 'bb');
    const run = (...args: string[]) => tsstack(u, proj, args, { wrap });
    t.is(run('image', 'import', tar, 'bb:1').status, 0);

    const up = run('up', '-d');
    t.is(up.status, 0, up.stderr);
    const said = up.stderr.split('\n').filter((l) => /resource limits/.test(l));
    t.is(said.length, 1, up.stderr);
    t.regex(said[0], /project proj: resource limits are not applied in rootless mode \(asked for: memory, cpus, pids\)/);
    // here (hybrid) the v2 tree has none of them; on a v2 host that has one, the delegated cgroup, which
    // holds the user's tsstack itself, still may not enable it ("no internal processes")
    const has = readFileSync(join(cg, 'cgroup.controllers'), 'utf8').split(/\s+/);
    for (const c of ['memory', 'cpu', 'pids']) {
      t.true(said[0].includes(has.includes(c) ? `${rel} holds processes, and cgroup v2 enables no controller below` : `the ${c} controller is not delegated to ${rel} (its cgroup.controllers: `), said[0]);
    }

    // the container's own cgroup: <delegated>/tsstack/<id>, holding its processes and nothing else
    const leaves = readdirSync(join(cg, 'tsstack')).filter((d) => statSync(join(cg, 'tsstack', d)).isDirectory());
    t.is(leaves.length, 1, `one container cgroup: ${leaves.join(' ')}`);
    const leaf = join(cg, 'tsstack', leaves[0]);
    const pids = readFileSync(join(leaf, 'cgroup.procs'), 'utf8').trim().split('\n').map(Number);
    t.is(pids.length, 2, 'sh and its sleep');
    for (const p of pids) t.regex(readFileSync(`/proc/${p}/cmdline`, 'utf8'), /^(sh|sleep)\0/);
    t.is(readFileSync(`/proc/${pids[0]}/cgroup`, 'utf8').match(/^0::(.*)$/m)![1], `${rel}/tsstack/${leaves[0]}`);
    t.false(readFileSync(join(cg, 'cgroup.procs'), 'utf8').trim().split('\n').map(Number).some((p) => pids.includes(p)), 'the container is not in the delegated cgroup itself');

    const stats = run('stats', '--no-stream', '--format', 'json');
    t.is(stats.status, 0, stats.stderr);
    const s = JSON.parse(stats.stdout) as { pids: number }[] | { pids: number };
    t.is((Array.isArray(s) ? s[0] : s).pids, 2, `the container's own processes, not the host's: ${stats.stdout}`);
    const top = run('top');
    t.is(top.status, 0, top.stderr);
    t.is(top.stdout.split('\n').filter((l) => /\bsleep 300\b|\bsh -c\b/.test(l)).length, 2, top.stdout);
    t.notRegex(top.stdout, /tsstack\.js|tsstack-monitor/, 'no process of the user outside the container');

    const down = run('down');
    t.is(down.status, 0, down.stderr);
    t.deepEqual(subdirs(cg), [], 'down leaves no cgroup below the delegated one');
    t.deepEqual(u.pids(), [], `down left: ${u.describe()}`);
  } finally {
    u.remove();
    if (cg) removeCgroupTree(cg);
  }
  t.false(existsSync(cg), 'the delegated cgroup is gone');
});
