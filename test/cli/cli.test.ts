import test from 'ava';
import { rmSync } from 'node:fs';
import { main } from '../../src/cli/main.js';
import { EXIT, exitCodeFor, renderError } from '../../src/cli/errors.js';
import { TsstackError } from '../../src/util/errors.js';
import { FakeEngine } from '../fakes/engine.js';
import { model } from '../reconcile/_model.js';
import { harness } from './_harness.js';
import type { Io } from '../../src/cli/context.js';

function io(): Io & { lines: string[] } {
  const lines: string[] = [];
  return { lines, out: (s) => lines.push(s), err: (s) => lines.push(s), tty: false, env: {}, cwd: '/' };
}

const demo = () => model('demo', {
  redis: { image: 'redis:7', ports: [{ target: 6379, published: { start: 6379, end: 6379 }, protocol: 'tcp', mode: 'ingress' }] },
  app: { image: 'busybox', environment: { REDIS_URL: 'redis://redis:6379' }, depends_on: { redis: { condition: 'service_started', required: true } } },
});

function engine(): FakeEngine {
  const e = new FakeEngine();
  e.addImage('busybox', { Cmd: ['sh'] });
  e.registry.set('redis:7', { id: 'sha256:redis', names: ['redis:7'], config: { Cmd: ['redis-server'] }, chainIds: [], size: 1 });
  return e;
}

test('--version prints the version and exits 0', async (t) => {
  const x = io();
  t.is(await main(['--version'], x), 0);
  t.regex(x.lines[0], /^tsstack version \d+\.\d+\.\d+/);
});

test('usage errors exit 2 with a hint', async (t) => {
  const x = io();
  t.is(await main(['frobnicate'], x), 2);
  t.regex(x.lines.join('\n'), /error: unknown command 'frobnicate'[\s\S]*hint:/);
  const y = io();
  t.is(await main(['up', '--scale', 'web'], y), 2);
  t.regex(y.lines.join('\n'), /--scale expects SERVICE=NUM/);
});

test('down in / without a stack file or -p: a usage error, before anything is looked at', async (t) => {
  const x = io();
  x.env = { TSSTACK_ROOT: '/nonexistent/tsstack-root', TSSTACK_RUN_ROOT: '/nonexistent/tsstack-run' };
  x.openEngine = async () => { throw new Error('the engine was opened'); };
  t.is(await main(['down'], x), 2);
  t.regex(x.lines.join('\n'), /error: no stack file in \/, and its name makes no project name[\s\S]*hint: .*-p NAME/);
  t.notRegex(x.lines.join('\n'), /nothing to remove/);
});

test('error rendering: location, details, hint; stack only with --debug', (t) => {
  const e = new TsstackError('SPEC', 'unknown key "imagee"', { location: { file: 'stack.yaml', line: 3, path: 'services.web.imagee' }, hint: 'did you mean "image"?', details: ['one', 'two'] });
  const text = renderError(e);
  t.is(text, 'error: stack.yaml:3 (services.web.imagee): unknown key "imagee"\n  - one\n  - two\nhint: did you mean "image"?');
  t.regex(renderError(e, true), /at /);
  t.regex(renderError(new Error('boom')), /^error: internal error: boom\nhint: this is a bug/);
});

test('error rendering: a message that already starts with its place (the builder\'s) does not repeat it', async (t) => {
  const { DockerfileSyntaxError } = await import('../../src/engine/image/build/parser.js');
  t.is(renderError(new DockerfileSyntaxError('Dockerfile', 2, 'unknown instruction: FOO')), 'error: Dockerfile:2: unknown instruction: FOO');
});

test('exit code table is stable', (t) => {
  t.deepEqual(EXIT, { SPEC: 2, USAGE: 2, NOT_FOUND: 3, CONFLICT: 4, IMAGE: 5, RUNTIME: 6, NETWORK: 7, HOST: 8, REMOTE: 9, INTERNAL: 70 });
  t.is(exitCodeFor(new TsstackError('CONFLICT', 'x')), 4);
  t.is(exitCodeFor(new Error('x')), 70);
});

test('up -d, then plan says nothing to do; ps shows both; down removes all', async (t) => {
  const h = harness(demo, engine(), (f) => t.teardown(f));
  const r = await h.run('up', '-d');
  t.is(r.code, 0, r.err);
  t.regex(r.err, /image:redis:7 {2}Pulling \(not present locally\)/);
  t.regex(r.err, /service:app:1 {2}Creating \(missing\)/);
  const p = await h.run('plan', '--detailed-exitcode');
  t.is(p.code, 0);
  t.is(p.out, 'no changes: demo is up to date');
  const ps = await h.run('ps', '--format', 'json');
  const rows = JSON.parse(ps.out) as { Name: string; State: string }[];
  t.deepEqual(rows.map((x) => `${x.Name} ${x.State}`), ['demo-app-1 running', 'demo-redis-1 running']);
  const d = await h.run('down');
  t.is(d.code, 0, d.err);
  t.is(h.engine.ctrs.size, 0);
  t.is(h.engine.nets.size, 0);
  t.deepEqual(h.engine.forgotten, ['demo'], 'the engine, not the CLI, removes the project\'s files');
});

test('plan --detailed-exitcode exits 2 and names the changed field', async (t) => {
  let env = 'redis://redis:6379';
  const m = () => {
    const x = demo();
    x.services.app.environment = { REDIS_URL: env };
    return x;
  };
  const h = harness(m, engine(), (f) => t.teardown(f));
  t.is((await h.run('up', '-d')).code, 0);
  env = 'redis://elsewhere:6379';
  const p = await h.run('plan', '--detailed-exitcode');
  t.is(p.code, 2);
  t.is(p.out, 'recreate service:app:1 (changed: environment.REDIS_URL) after: redis started', 'the plan says what each action waits for');
  const u = await h.run('up', '-d');
  t.regex(u.err, /service:app:1 {2}Recreating \(changed: environment.REDIS_URL\)/);
  t.notRegex(u.err, /service:redis/);
});

test('preflight: a busy host port fails with exit 4, all problems listed, nothing touched', async (t) => {
  const e = engine();
  e.busyPorts.set(6379, 'process redis-server (pid 42)');
  const m = () => {
    const x = demo();
    x.services.app.volumes = [{ type: 'bind', source: '/nonexistent/tsstack-src', target: '/src' }];
    return x;
  };
  const h = harness(m, e, (f) => t.teardown(f));
  const r = await h.run('up', '-d');
  t.is(r.code, 4);
  t.regex(r.err, /2 problems found; nothing was changed/);
  t.regex(r.err, /host port 6379\/tcp is in use by process redis-server \(pid 42\)/);
  t.regex(r.err, /bind mount source \/nonexistent\/tsstack-src of service app does not exist/);
  t.deepEqual(e.journal, []);
});

test('a failed start stops dependents and exits 1 naming the cause', async (t) => {
  const e = engine();
  e.behaviour = (s) => (s.name === 'demo-redis-1' ? { fail: 'exec format error' } : {});
  const h = harness(demo, e, (f) => t.teardown(f));
  const r = await h.run('up', '-d');
  t.is(r.code, 1);
  t.regex(r.err, /service:redis:1: start demo-redis-1: exec format error/);
  t.regex(r.err, /service:app: not started: dependency redis failed/);
  t.false(e.journal.includes('start demo-app-1'));
});

// Compose's run and exec pass stdin on unless told not to (its -i is on by default): `exec -T db psql <
// dump.sql` must reach psql. A stdin that is /dev/null or closed has nothing to pass (run then keeps its
// monitored path); --no-interactive keeps a stdin that could carry input away from the container.
test('run and exec pass stdin on as Compose does: not /dev/null, not with --no-interactive', async (t) => {
  const h = harness(demo, engine(), (f) => t.teardown(f));
  t.is((await h.run('up', '-d')).code, 0);
  const attached = () => h.engine.journal.filter((j) => j.startsWith('attached ')).length;
  const execInput = () => h.engine.execOptions.at(-1)?.interactive;
  h.stdin = 'none';
  t.is((await h.run('run', '--rm', '-T', 'app', 'true')).code, 0);
  t.is(attached(), 0, 'nothing to pass: started with its monitor, its output through its log');
  t.is((await h.run('exec', '-T', 'app', 'true')).code, 0);
  t.false(execInput());
  h.stdin = 'input';
  t.is((await h.run('run', '--rm', '-T', 'app', 'cat')).code, 0);
  t.is(attached(), 1, 'a pipe or a file: the container runs on this stdin');
  t.is((await h.run('exec', '-T', 'app', 'cat')).code, 0);
  t.true(execInput());
  t.is((await h.run('run', '--rm', '--no-interactive', 'app', 'cat')).code, 0);
  t.is(attached(), 1);
  t.is((await h.run('exec', '--no-interactive', 'app', 'cat')).code, 0);
  t.false(execInput());
  t.is((await h.run('run', '-d', 'app', 'cat')).code, 0);
  t.is(attached(), 1, 'run -d never attaches');
  h.stdin = 'none';
  t.is((await h.run('run', '--rm', '-i', 'app', 'cat')).code, 0);
  t.is(attached(), 2, '-i attaches whatever stdin is');
  t.is((await h.run('exec', '-i', 'app', 'cat')).code, 0);
  t.true(execInput());
});

test('stop/start follow dependencies; exec and port reach the right container', async (t) => {
  const h = harness(demo, engine(), (f) => t.teardown(f));
  await h.run('up', '-d');
  t.is((await h.run('stop', 'redis')).code, 0);
  const after = [...h.engine.ctrs.values()].map((c) => `${c.name}=${c.status}`).sort();
  t.deepEqual(after, ['demo-app-1=exited', 'demo-redis-1=exited']); // app depends on redis: stopped first
  t.is((await h.run('start', 'app')).code, 0);
  t.deepEqual([...h.engine.ctrs.values()].map((c) => c.status), ['running', 'running']);
  t.is((await h.run('exec', '-T', 'app', 'echo', 'hi')).code, 0);
  t.true(h.engine.journal.includes('exec demo-app-1 echo hi'));
  const p = await h.run('port', 'redis', '6379');
  t.is(p.out, '0.0.0.0:6379');
  const missing = await h.run('exec', 'nosuch', 'true');
  t.is(missing.code, 3);
});

test('logs prefix each line with the container', async (t) => {
  const h = harness(demo, engine(), (f) => t.teardown(f));
  await h.run('up', '-d');
  const r = await h.run('logs', '--no-color');
  t.is(r.out, 'app-1    | hello from demo-app-1\nredis-1  | hello from demo-redis-1');
});

test('completion bash lists commands', async (t) => {
  const x = io();
  t.is(await main(['completion', 'bash'], x), 0);
  t.regex(x.lines.join('\n'), /complete -F _tsstack tsstack/);
  t.regex(x.lines.join('\n'), /up\) opts="[^"]*--force-recreate/);
});

test('a missing engine part is reported as not available, exit 8', async (t) => {
  const x = io();
  const dir = (await import('node:fs')).mkdtempSync('/tmp/tsstack-cli-na-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  x.env = { TSSTACK_ROOT: dir, TSSTACK_RUN_ROOT: dir + '/run' };
  x.openEngine = async () => {
    const e = new FakeEngine();
    e.containers = new Proxy({} as FakeEngine['containers'], { get: () => async () => { throw new TsstackError('HOST', 'the container runtime layer is not available yet in this build of tsstack'); } });
    return e;
  };
  t.is(await main(['-p', 'x', 'ps'], x), 8);
  t.regex(x.lines.join('\n'), /not available yet/);
});

void FakeEngine;

test('up --watch re-runs the reconcile when a stack file changes, and stops on Ctrl-C', async (t) => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { interrupted } = await import('../../src/cli/context.js');
  const dir = mkdtempSync('/tmp/tsstack-watch-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true })); // also when an assertion fails on the way
  const file = join(dir, 'stack.yaml');
  writeFileSync(file, 'v1\n');
  let env = 'one';
  const m = () => {
    const x = model('w', { app: { image: 'busybox', environment: { V: env } } });
    x.sourceFiles = [file];
    return x;
  };
  const h = harness(m, engine(), (f) => t.teardown(f));
  const running = h.run('up', '-d', '--watch');
  const until = async (f: () => boolean) => {
    for (let i = 0; i < 200 && !f(); i++) await new Promise((r) => setTimeout(r, 25));
  };
  await until(() => h.engine.journal.includes('start w-app-1'));
  env = 'two';
  await new Promise((r) => setTimeout(r, 200));
  writeFileSync(file, 'v2\n');
  await until(() => h.engine.journal.filter((j) => j === 'create w-app-1').length === 2);
  t.deepEqual(h.engine.journal.filter((j) => j.includes('w-app-1')), ['create w-app-1', 'start w-app-1', 'stop w-app-1', 'remove w-app-1', 'create w-app-1', 'start w-app-1']);
  t.true(interrupted());
  const r = await running;
  t.is(r.code, 0, r.err);
});

test('two concurrent ups on one project: the second waits for the lock and says who holds it', async (t) => {
  const e = engine();
  const orig = e.containers.create;
  e.containers.create = async (spec) => {
    await new Promise((r) => setTimeout(r, 400)); // long enough for the waiter to say so (it keeps quiet for 0.5 s)
    return orig(spec);
  };
  const h = harness(demo, e, (f) => t.teardown(f));
  const [a, b] = await Promise.all([h.run('up', '-d'), new Promise((r) => setTimeout(r, 30)).then(() => h.run('up', '-d'))]);
  t.is(a.code, 0, a.err);
  t.is(b.code, 0, b.err);
  t.regex(b.err, /waiting for the lock of project demo, held by pid \d+ \(/);
  t.regex(b.err, /demo is up to date/); // it saw the first one's result, not a half-made state
  t.is(e.journal.filter((j) => j.startsWith('create ') ).length, 2);
});

test('an image that cannot be pulled exits 5 and touches nothing', async (t) => {
  const e = engine();
  e.registry.clear();
  const h = harness(demo, e, (f) => t.teardown(f));
  const r = await h.run('up', '-d');
  t.is(r.code, 5);
  t.regex(r.err, /error: image:redis:7: pull redis:7: not found in registry/);
  t.deepEqual(e.journal, ['pull redis:7']);
});
