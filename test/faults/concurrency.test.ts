// Several tsstack commands at once (issue 13): each a process of its own, as
// users and scripts run them. Whatever the interleaving, the engine must end in
// a state the next command understands (a later `up -d` converges, `plan
// --detailed-exitcode` is 0, `down -v` leaves nothing), no command may hang, and
// one that has to wait says once which command holds the project's lock.
import test from 'ava';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isolateNetwork } from '../cli/_netns.js';
import { needs } from '../helpers/skip.js';
import { assertNothingLeft, canRun, E2E, leftovers, world, type World } from '../cli/_world.js';
import { TSSTACK_BIN, tsstackProc, type ProcRun } from '../helpers/cli-process.js';
import { spawnSync } from 'node:child_process';
import { Lock } from '../../src/engine/store/lock.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';

const e2e = needs(...E2E).serial;
if (canRun) isolateNetwork();

// Three services on two networks and the default one; `sleep` as PID 1 ignores SIGTERM, so a
// `down -t 2` holds the lock for two seconds while it waits for them; c's post_start makes the up
// that creates the stack hold it for a second (or `holdS`), so concurrent waiters speak whatever the
// machine's speed.
const stack = (marker = 'one', holdS: number | 'released' = 1) => `services:
  a:
    image: busybox:latest
    command: ["sleep", "300"]
    environment: { MARK: ${marker} }
    networks: [front, back]
  b:
    image: busybox:latest
    command: ["sleep", "300"]
    networks: [back]
  c:
    image: busybox:latest
    command: ["sleep", "300"]
    depends_on: [b]
    # the up that creates the stack holds the lock longer than a waiter stays quiet (0.5 s): a time,
    # or until the test puts ./release/go (at most 2 minutes)
${holdS === 'released' ? `    volumes: ["./release:/release:ro"]
    post_start:
      - command: ["sh", "-c", "i=0; while [ ! -e /release/go ] && [ $$i -lt 1200 ]; do sleep 0.1; i=$$((i + 1)); done"]` : `    post_start:
      - command: ["sleep", "${holdS}"]`}
networks:
  front: {}
  back: {}
`;

const WAIT_RE = /waiting for the lock of project (\S+), held by pid (\d+) \((tsstack [^)]*)\)/g;

interface Env { w: World; file: string; T: (project: string, args: string[], extra?: Record<string, string>) => Promise<ProcRun> }

async function setup(holdS?: number | 'released'): Promise<Env> {
  const w = world();
  await w.busybox();
  const file = join(w.dir, 'stack.yaml');
  writeFileSync(file, stack('one', holdS));
  const env = { TSSTACK_ROOT: w.root, TSSTACK_RUN_ROOT: join(w.root, 'run'), TSSTACK_PROJECT_NAME: undefined };
  const T = (project: string, args: string[], extra: Record<string, string> = {}) =>
    tsstackProc({ ...env, ...extra }, ['-f', file, '-p', project, ...args], { cwd: w.dir, timeoutMs: 180_000 });
  return { w, file, T };
}

/** A project converged: one running container per service, and nothing left to plan. */
async function assertConverged(t: import('ava').ExecutionContext, e: Env, project: string): Promise<void> {
  const ps = await e.T(project, ['ps', '-a', '--format', 'json']);
  const cs = JSON.parse(ps.out || '[]') as { Name: string; Service: string; State: string }[];
  t.deepEqual(cs.map((c) => `${c.Name} ${c.State}`).sort(), ['a', 'b', 'c'].map((s) => `${project}-${s}-1 running`), `${project}: one running container per service`);
  const plan = await e.T(project, ['plan', '--detailed-exitcode']);
  t.is(plan.code, 0, `${project}: plan after: ${plan.out}${plan.err}`);
}

/** `down -v` of every project, then nothing of the world may be left. */
async function finish(t: import('ava').ExecutionContext, e: Env, projects: string[]): Promise<void> {
  const downs = await Promise.all(projects.map((p) => e.T(p, ['down', '-v', '-t', '1'])));
  downs.forEach((d, i) => t.is(d.code, 0, `down -v ${projects[i]}: ${d.err}`));
  assertNothingLeft(t, e.w);
}

/** Each waiter said so at most once, naming a holder among `pids` (the concurrent commands). */
function waits(t: import('ava').ExecutionContext, runs: ProcRun[], pids: number[]): number {
  let n = 0;
  for (const r of runs) {
    const said = [...r.err.matchAll(WAIT_RE)];
    t.true(said.length <= 1, `said once: ${r.err}`);
    for (const m of said) {
      t.true(pids.includes(Number(m[2])), `the holder ${m[2]} is one of ${pids.join(', ')}`);
      t.regex(m[3], /^tsstack .*\b(up|down)\b/);
      n++;
    }
  }
  return n;
}

e2e('5 concurrent up -d of one project: one container per service, a converged plan, waiters say who holds the lock', async (t) => {
  // The five start at once, but under a loaded suite the last can reach the lock seconds after the first
  // took it (a fresh clone's first runs also compile the CLI; a hold of 1 s, then of 3 s, each failed
  // there once): the up that creates the stack holds the lock until a waiter has said who holds it
  const e = await setup('released');
  const release = join(e.w.dir, 'release');
  mkdirSync(release);
  const go = () => { if (!existsSync(join(release, 'go'))) writeFileSync(join(release, 'go'), ''); };
  try {
    const pids: number[] = [];
    const runs = await Promise.all(Array.from({ length: 5 }, () => tsstackProc(
      { TSSTACK_ROOT: e.w.root, TSSTACK_RUN_ROOT: join(e.w.root, 'run'), TSSTACK_PROJECT_NAME: undefined },
      ['-f', e.file, '-p', 'one', 'up', '-d'], { cwd: e.w.dir, timeoutMs: 180_000, onSpawn: (p) => pids.push(p), onStderr: (text) => { if (/waiting for the lock/.test(text)) go(); } })));
    for (const r of runs) {
      t.false(r.timedOut, 'no deadlock');
      t.is(r.code, 0, r.err);
    }
    t.true(waits(t, runs, pids) >= 1, `at least one waited and said who held the lock; they said:\n${runs.map((r) => r.err.trim()).join('\n---\n')}`);
    await assertConverged(t, e, 'one');
  } finally {
    await finish(t, e, ['one']);
  }
});

e2e('5 projects brought up in parallel, then down in parallel: each converges, distinct networks, nothing left', async (t) => {
  const e = await setup();
  const projects = ['p1', 'p2', 'p3', 'p4', 'p5'];
  try {
    const runs = await Promise.all(projects.map((p) => e.T(p, ['up', '-d'])));
    runs.forEach((r, i) => {
      t.false(r.timedOut, 'no deadlock');
      t.is(r.code, 0, `${projects[i]}: ${r.err}`);
    });
    for (const p of projects) await assertConverged(t, e, p);
    const nets = readdirSync(join(e.w.root, 'networks')).filter((f) => f.endsWith('.json') && !f.startsWith('.'))
      .map((f) => JSON.parse(readFileSync(join(e.w.root, 'networks', f), 'utf8')) as { name: string; subnet: string; bridge: string });
    t.is(nets.length, 15, `three networks per project: ${nets.map((n) => n.name).join(', ')}`);
    t.is(new Set(nets.map((n) => n.subnet)).size, 15, 'distinct subnets');
    t.is(new Set(nets.map((n) => n.bridge)).size, 15, 'distinct bridges');
  } finally {
    await finish(t, e, projects);
  }
});

e2e('down while up -d runs, and up -d of an edited stack while down runs: each waits its turn, the end state is whole', async (t) => {
  const e = await setup();
  try {
    // down starts while up is creating: it waits, then removes all of it.
    const pids: number[] = [];
    const up = e.T('mix', ['up', '-d']);
    await lockHeldBy(e.w.root, 'mix', /\bup\b/);
    const down = tsstackProc({ TSSTACK_ROOT: e.w.root, TSSTACK_RUN_ROOT: join(e.w.root, 'run'), TSSTACK_PROJECT_NAME: undefined },
      ['-f', e.file, '-p', 'mix', 'down', '-t', '1'], { cwd: e.w.dir, onSpawn: (p) => pids.push(p) });
    const [u, d] = await Promise.all([up, down]);
    t.is(u.code, 0, u.err);
    t.is(d.code, 0, d.err);
    t.deepEqual(JSON.parse((await e.T('mix', ['ps', '-a', '--format', 'json'])).out || '[]'), [], 'down ran after up: nothing runs');
    t.deepEqual(leftovers(e.w.root).filter((l) => !l.startsWith('process')), [], 'no link, mount or table of the project stays');

    // up of an edited stack starts while down waits for the containers to stop: it waits, then builds it all again.
    t.is((await e.T('mix', ['up', '-d'])).code, 0);
    const down2 = e.T('mix', ['down', '-t', '2']);
    await lockHeldBy(e.w.root, 'mix', /\bdown\b/);
    writeFileSync(e.file, stack('two'));
    const [d2, u2] = await Promise.all([down2, e.T('mix', ['up', '-d'])]);
    t.is(d2.code, 0, d2.err);
    t.is(u2.code, 0, u2.err);
    t.regex(u2.err, /waiting for the lock of project mix, held by pid \d+ \(tsstack .*down -t 2\)/);
    await assertConverged(t, e, 'mix');
  } finally {
    writeFileSync(e.file, stack());
    await finish(t, e, ['mix']);
  }
});

e2e('TSSTACK_LOCK_TIMEOUT: a command that cannot get the lock in time exits 4 naming the holder, and changes nothing', async (t) => {
  const e = await setup();
  try {
    t.is((await e.T('late', ['up', '-d'])).code, 0);
    const down = e.T('late', ['down', '-t', '3']);
    await lockHeldBy(e.w.root, 'late', /\bdown\b/);
    writeFileSync(e.file, stack('edited'));
    const u = await e.T('late', ['up', '-d'], { TSSTACK_LOCK_TIMEOUT: '1' });
    t.is(u.code, 4, u.err);
    t.regex(u.err, /the lock of project late is held by pid \d+ \(tsstack .*down -t 3\).*gave up after 1(\.\d)? s/);
    t.is((await down).code, 0);
    t.deepEqual(JSON.parse((await e.T('late', ['ps', '-a', '--format', 'json'])).out || '[]'), [], 'the late up made nothing');
  } finally {
    writeFileSync(e.file, stack());
    await finish(t, e, ['late']);
  }
});

e2e('a lock of the calling script (`exec 200>deploy.lock; flock 200; tsstack up -d`) is free once up returns: no daemon keeps an fd it inherited', async (t) => {
  const e = await setup();
  const lock = join(e.w.base, 'deploy.lock');
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, TSSTACK_ROOT: e.w.root, TSSTACK_RUN_ROOT: join(e.w.root, 'run') };
    delete env.TSSTACK_PROJECT_NAME;
    // the scripts' idiom: the lock on a descriptor of the shell, which every command it runs inherits
    const script = 'exec 200>"$0"; flock 200; exec "$@"';
    const up = spawnSync('bash', ['-c', script, lock, process.execPath, TSSTACK_BIN, '-f', e.file, '-p', 'inh', 'up', '-d'], { env, cwd: e.w.dir, encoding: 'utf8', timeout: 120_000 });
    t.is(up.status, 0, up.stderr);
    const again = spawnSync('flock', ['-n', lock, 'true']);
    t.is(again.status, 0, 'the caller\'s lock is free: neither tsstack-dns nor a monitor holds it');
  } finally {
    await finish(t, e, ['inh']);
  }
});

/** Waits until the project's lock file names a holder whose command matches `re`. */
async function lockHeldBy(root: string, project: string, re: RegExp): Promise<void> {
  const path = Lock.pathFor(root, `project-${project}`);
  for (const end = Date.now() + 60_000; Date.now() < end; await new Promise((r) => setTimeout(r, 10))) {
    const h = Lock.readHolder(path);
    if (h && re.test(h.command)) return;
  }
  throw new Error(`the lock of ${project} was never held by a command matching ${re}`);
}

test('a waiter keeps quiet when the lock comes soon, and speaks once when it does not', async (t) => {
  const root = makeTemp();
  try {
    const heard: string[] = [];
    const onWait = (h: { command: string } | undefined) => heard.push(h?.command ?? '?');
    const a = await Lock.acquire(root, 'project-q', { command: 'tsstack up -d' });
    setTimeout(() => a.release(), 150);
    (await Lock.acquire(root, 'project-q', { pollMs: 10, onWait })).release();
    t.deepEqual(heard, [], 'a short wait says nothing');
    const b = await Lock.acquire(root, 'project-q', { command: 'tsstack down' });
    setTimeout(() => b.release(), 1200);
    (await Lock.acquire(root, 'project-q', { pollMs: 10, onWait })).release();
    t.deepEqual(heard, ['tsstack down'], 'a long one says so once');
  } finally {
    rmTemp(root);
  }
});
