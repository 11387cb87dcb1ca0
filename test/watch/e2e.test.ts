// Watch mode end to end: `tsstack up --watch` as a child process on a copy of
// examples/watch, real file edits, real containers (issue 7's tests).
import { skipWhen } from '../helpers/skip.js';
import test, { type ExecutionContext } from 'ava';
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cannotRun, get, isolateNetwork, parsePs, REPO, Sandbox, settledLeftovers, until, type PsRow } from '../examples/_cli.js';

const skip = cannotRun();
const PAGE = 'http://127.0.0.1:8082/';

/** A copy of examples/watch with a second service, so "only that container changes" can be seen. */
function project(b: Sandbox): { dir: string; file: string } {
  const dir = join(b.base, 'watch');
  cpSync(join(REPO, 'examples/watch'), dir, { recursive: true });
  const file = join(dir, 'stack.yaml');
  appendFileSync(file, '\n  other:\n    image: tsstack.local/busybox:latest\n    command: ["sleep", "86400"]\n    stop_signal: SIGKILL\n');
  return { dir, file };
}

/** Collects a child's output and lets a test wait for a pattern in it. */
function watchOutput(child: ChildProcess): { text(): string; waitFor(re: RegExp, ms: number): Promise<boolean>; exited: Promise<number | null> } {
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => { buf += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { buf += d.toString(); });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    text: () => buf,
    waitFor: (re, ms) => until(async () => re.test(buf), ms, 50),
    exited,
  };
}

async function ps(b: Sandbox, cwd: string): Promise<PsRow[]> {
  // -p: works while the stack file is broken, too.
  return parsePs(await b.exec('node', [join(REPO, 'bin/tsstack.js'), '-p', 'watch-demo', 'ps', '--format', 'json'], { cwd }));
}

const idOf = (rows: PsRow[], service: string): string | undefined => rows.find((r) => r.Service === service)?.ID;

let box: Sandbox | undefined;
let imagesError: string | undefined;

test.before(async () => {
  if (skip) return;
  isolateNetwork();
  box = new Sandbox({ TSSTACK_EXAMPLE_IMAGES: 'busybox' });
  const images = await box.exec('bash', ['scripts/make-example-images.sh'], { timeoutMs: 120_000 });
  if (images.code !== 0) imagesError = images.err;
});

test.after.always(() => box?.dispose());

/** Starts `tsstack ARGS…` on a fresh copy of examples/watch; the teardown kills it and downs the stack. */
async function startWatching(t: ExecutionContext, args: string[], tweak?: (p: { dir: string; file: string }) => void) {
  const b = box!;
  const p = project(b);
  tweak?.(p);
  const child = b.spawnTsstack(['-f', p.file, ...args], p.dir);
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
    await b.exec('node', [join(REPO, 'bin/tsstack.js'), '-p', 'watch-demo', 'down'], { cwd: b.base });
    rmSync(p.dir, { recursive: true, force: true });
  });
  const out = watchOutput(child);
  const ready = await out.waitFor(/watching for changes/, 120_000);
  return { ...p, b, child, out, ready };
}

/** SIGINT, as Ctrl-C sends; resolves with the exit code, or 'timeout'. */
async function interrupt(child: ChildProcess, exited: Promise<number | null>): Promise<number | null | 'timeout'> {
  child.kill('SIGINT');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), 30_000); });
  try {
    return await Promise.race([exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

skipWhen(skip, skip).serial('up --watch: a sync edit shows in the container without a restart, an env edit replaces only that container, a broken file keeps the stack running', async (t) => {
  if (imagesError || !box) throw new Error(`the example images could not be made: ${imagesError}`);
  const { b, file, dir, child, out, ready } = await startWatching(t, ['up', '--watch']);
  t.true(ready, out.text());
  // the watcher replaced itself once with the same command without V8's memory reducer (watch-host.ts)
  const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
  t.true(cmdline.includes('--no-memory-reducer') && cmdline.includes('--watch'), cmdline.join(' '));
  t.regex(await get(PAGE), /Hello from tsstack/);
  const first = await ps(b, b.base);
  t.deepEqual(first.map((r) => [r.Service, r.State]), [['other', 'running'], ['web', 'running']]);

  // A file under the sync rule: copied into the running container.
  writeFileSync(join(dir, 'site/index.html'), '<h1>edited while watching</h1>\n');
  const saved = Date.now();
  const seen = await until(async () => (await get(PAGE, 500)).includes('edited while watching'), 1000, 20);
  t.log(`sync visible after ${Date.now() - saved} ms`);
  t.true(seen, `the new page was not served within a second:\n${out.text()}`);
  const inside = await b.tsstack('-f', file, 'exec', '-T', 'web', 'cat', '/www/index.html');
  t.is(inside.out, '<h1>edited while watching</h1>\n');
  // A new directory with a file in it; then both removed.
  mkdirSync(join(dir, 'site/css/deep'), { recursive: true });
  writeFileSync(join(dir, 'site/css/deep/a.css'), 'body { color: teal }\n');
  t.true(await until(async () => (await get(`${PAGE}css/deep/a.css`, 500)) === 'body { color: teal }\n', 2000, 20), out.text());
  rmSync(join(dir, 'site/css'), { recursive: true });
  t.true(await until(async () => /404/.test(await get(`${PAGE}css/deep/a.css`, 500)), 2000, 20), out.text());
  const afterSync = await ps(b, b.base);
  t.is(idOf(afterSync, 'web'), idOf(first, 'web'), 'sync does not replace the container');

  // environment: only web is replaced (and the new container gets the synced files).
  const text = readFileSync(file, 'utf8');
  writeFileSync(file, text.replace('GREETING: hello', 'GREETING: changed'));
  const replaced = await until(async () => {
    const rows = await ps(b, b.base);
    const id = idOf(rows, 'web');
    return id && id !== idOf(first, 'web') && rows.find((r) => r.Service === 'web')?.State === 'running' ? rows : undefined;
  }, 30_000, 100);
  t.truthy(replaced, `web was not recreated:\n${out.text()}`);
  t.is(idOf(replaced ?? [], 'other'), idOf(first, 'other'), 'the other service is untouched');
  const greeting = await b.tsstack('-f', file, 'exec', '-T', 'web', 'sh', '-c', 'echo $GREETING');
  t.is(greeting.out.trim(), 'changed');
  t.true(await until(async () => (await get(PAGE)).includes('edited while watching'), 5000), 'the new container serves the edited page');

  // A broken stack file: an error naming the file and line, and the stack keeps running.
  const good = readFileSync(file, 'utf8');
  writeFileSync(file, good.replace('services:', 'services: [\n'));
  t.true(await out.waitFor(/stack\.yaml:\d+/, 10_000), `no error with file and line:\n${out.text()}`);
  t.regex(out.text(), /error: /);
  await new Promise((r) => setTimeout(r, 300));
  const during = await ps(b, b.base);
  t.deepEqual(during.map((r) => [r.Service, r.State, r.ID]), (replaced ?? []).map((r) => [r.Service, 'running', r.ID]));
  t.regex(await get(PAGE), /edited while watching/);

  // Fixed (with a change): converges.
  writeFileSync(file, good.replace('GREETING: changed', 'GREETING: fixed'));
  const converged = await until(async () => {
    const g = await b.tsstack('-f', file, 'exec', '-T', 'web', 'sh', '-c', 'echo $GREETING');
    return g.out.trim() === 'fixed';
  }, 30_000, 200);
  t.true(converged, out.text());

  // Ctrl-C stops watching.
  const ids = (await ps(b, b.base)).map((r) => r.ID);
  t.not(await interrupt(child, out.exited), 'timeout', `the watcher did not exit on SIGINT:\n${out.text()}`);
  const down = await b.tsstack('-p', 'watch-demo', 'down');
  t.is(down.code, 0, down.err);
  t.deepEqual(await settledLeftovers(b.root, [...ids, ...first.map((r) => r.ID)]), []);
});

skipWhen(skip, skip).serial('up --watch: Ctrl-C without -d also stops the stack', async (t) => {
  if (imagesError || !box) throw new Error(`the example images could not be made: ${imagesError}`);
  const { b, child, out, ready } = await startWatching(t, ['up', '--watch']);
  t.true(ready, out.text());
  const ids = (await ps(b, b.base)).map((r) => r.ID);
  t.is(ids.length, 2);
  t.not(await interrupt(child, out.exited), 'timeout', out.text());
  t.deepEqual(await ps(b, b.base), [], 'Ctrl-C stops the stack (like docker compose up)');
  t.regex(out.text(), /stopping…/);
  t.regex(out.text(), /web-1 exited with code \d+/, 'as attached up says it');
  // Stopped, not removed (as docker compose up leaves them).
  const all = parsePs(await b.exec('node', [join(REPO, 'bin/tsstack.js'), '-p', 'watch-demo', 'ps', '-a', '--format', 'json'], { cwd: b.base }));
  t.deepEqual(all.map((r) => r.ID).sort(), [...ids].sort());
});

skipWhen(skip, skip).serial('up --watch --keep: Ctrl-C stops watching and leaves the stack running', async (t) => {
  if (imagesError || !box) throw new Error(`the example images could not be made: ${imagesError}`);
  const { b, child, out, ready } = await startWatching(t, ['up', '--watch', '--keep']);
  t.true(ready, out.text());
  t.regex(out.text(), /attaching to other-1, web-1/);
  // The log reads of the containers left running are cancelled, so the process exits on its own,
  // promptly (no fallback exit timer; the 10 s bound only guards against a hang).
  const sent = Date.now();
  const code = await interrupt(child, out.exited);
  t.is(code, 0, out.text());
  const took = Date.now() - sent;
  t.log(`exit ${took} ms after SIGINT`);
  t.true(took < 10_000, `--keep exit took ${took} ms:\n${out.text()}`);
  t.deepEqual((await ps(b, b.base)).map((r) => [r.Service, r.State]), [['other', 'running'], ['web', 'running']]);
  t.regex(await get(PAGE), /Hello from tsstack/);
});

skipWhen(skip, skip).serial('up --watch -d: Ctrl-C stops watching and leaves the stack running', async (t) => {
  if (imagesError || !box) throw new Error(`the example images could not be made: ${imagesError}`);
  const { b, child, out, ready } = await startWatching(t, ['up', '--watch', '-d']);
  t.true(ready, out.text());
  t.not(await interrupt(child, out.exited), 'timeout', out.text());
  const rows = await ps(b, b.base);
  t.deepEqual(rows.map((r) => [r.Service, r.State]), [['other', 'running'], ['web', 'running']]);
  t.regex(await get(PAGE), /Hello from tsstack/);
  const down = await b.tsstack('-p', 'watch-demo', 'down');
  t.is(down.code, 0, down.err);
  t.deepEqual(await settledLeftovers(b.root, rows.map((r) => r.ID)), []);
});

/** A stack with a built service and no develop rules: its build context is what is watched. */
function buildProject(b: Sandbox): { dir: string; file: string } {
  const dir = join(b.base, 'build');
  mkdirSync(join(dir, 'app/www'), { recursive: true });
  writeFileSync(join(dir, 'app/Dockerfile'), 'FROM tsstack.local/busybox:latest\nRUN echo one step > /step\nCOPY www /www\nCMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n');
  writeFileSync(join(dir, 'app/.dockerignore'), '*.tmp\n');
  writeFileSync(join(dir, 'app/www/index.html'), 'version one\n');
  const file = join(dir, 'stack.yaml');
  writeFileSync(file, 'name: watch-build\nservices:\n  app:\n    build: ./app\n    ports: ["8083:8080"]\n    stop_signal: SIGKILL\n');
  return { dir, file };
}

/** `up --watch` on the build project, stopped and torn down with the test; `list` is its `ps`. */
async function watchBuildProject(t: import('ava').ExecutionContext, b: Sandbox, dir: string, file: string) {
  const child = b.spawnTsstack(['-f', file, 'up', '--watch'], dir);
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
    await b.exec('node', [join(REPO, 'bin/tsstack.js'), '-p', 'watch-build', 'down', '--remove-orphans'], { cwd: b.base });
    rmSync(dir, { recursive: true, force: true });
  });
  const out = watchOutput(child);
  t.true(await out.waitFor(/watching for changes/, 120_000), out.text());
  const list = async () => parsePs(await b.exec('node', [join(REPO, 'bin/tsstack.js'), '-p', 'watch-build', 'ps', '--format', 'json'], { cwd: b.base }));
  return { child, out, list };
}

skipWhen(skip, skip).serial('up --watch: a build-context edit rebuilds and replaces that service, .dockerignore\'d files do not; an added service starts', async (t) => {
  if (imagesError || !box) throw new Error(`the example images could not be made: ${imagesError}`);
  const b = box;
  const { dir, file } = buildProject(b);
  const { child, out, list } = await watchBuildProject(t, b, dir, file);
  const page = 'http://127.0.0.1:8083/';
  t.is(await get(page), 'version one\n');
  const first = await list();

  // Excluded by .dockerignore: nothing happens.
  writeFileSync(join(dir, 'app/notes.tmp'), 'scratch\n');
  await new Promise((r) => setTimeout(r, 1500));
  t.deepEqual((await list()).map((r) => r.ID), first.map((r) => r.ID));

  writeFileSync(join(dir, 'app/www/index.html'), 'version two\n');
  t.true(await until(async () => (await get(page)) === 'version two\n', 60_000, 100), out.text());
  const rebuilt = await list();
  t.not(idOf(rebuilt, 'app'), idOf(first, 'app'));
  const since = out.text().slice(out.text().indexOf('watching for changes'));
  t.regex(since, /RUN echo one step[^\n]*\n[^\n]*CACHED/, 'the rebuild reuses the cached RUN step');

  // A service added to the file is started.
  writeFileSync(file, `${readFileSync(file, 'utf8')}  extra:\n    image: tsstack.local/busybox:latest\n    command: ["sleep", "86400"]\n    stop_signal: SIGKILL\n`);
  const added = await until(async () => (await list()).find((r) => r.Service === 'extra' && r.State === 'running'), 30_000, 100);
  t.truthy(added, out.text());
  t.is(idOf(await list(), 'app'), idOf(rebuilt, 'app'), 'adding a service leaves the others alone');
  t.not(await interrupt(child, out.exited), 'timeout', out.text());
});

skipWhen(skip, skip).serial('up --watch: a service deleted from the stack file is removed', async (t) => {
  if (imagesError || !box) throw new Error(`the example images could not be made: ${imagesError}`);
  const b = box;
  const { dir, file } = buildProject(b);
  const full = `${readFileSync(file, 'utf8')}  extra:\n    image: tsstack.local/busybox:latest\n    command: ["sleep", "86400"]\n    stop_signal: SIGKILL\n`;
  writeFileSync(file, full);
  const { child, out, list } = await watchBuildProject(t, b, dir, file);
  t.deepEqual((await list()).map((r) => r.Service), ['app', 'extra']);
  writeFileSync(file, full.slice(0, full.indexOf('  extra:')));
  const gone = await until(async () => (await list()).every((r) => r.Service !== 'extra'), 15_000, 100);
  t.true(gone, out.text());
  // The plan of that reconcile is shown, with its cause.
  t.true(await out.waitFor(/watch: plan: remove-orphan container:watch-build-extra-1 \(service extra is not in the stack\)/, 5000), out.text());
  const all = parsePs(await b.exec('node', [join(REPO, 'bin/tsstack.js'), '-p', 'watch-build', 'ps', '-a', '--format', 'json'], { cwd: b.base }));
  t.deepEqual(all.map((r) => r.Service), ['app'], 'removed, not just stopped');
  t.not(await interrupt(child, out.exited), 'timeout', out.text());
});

skipWhen(skip, skip).serial('up --watch: sync+restart restarts the container in place, sync+exec runs its hook, for an image-only service', async (t) => {
  if (imagesError || !box) throw new Error(`the example images could not be made: ${imagesError}`);
  const b = box;
  const dir = join(b.base, 'hooks');
  mkdirSync(join(dir, 'conf'), { recursive: true });
  mkdirSync(join(dir, 'hooks'), { recursive: true });
  writeFileSync(join(dir, 'conf/app.conf'), 'one\n');
  writeFileSync(join(dir, 'hooks/page'), 'before\n');
  const file = join(dir, 'stack.yaml');
  writeFileSync(file, [
    'name: watch-hooks',
    'services:',
    '  api:',
    '    image: tsstack.local/busybox:latest',
    // /www/started is new on every start (a random uuid): tells a restart from a sync.
    '    command: ["sh", "-c", "mkdir -p /www && cat /proc/sys/kernel/random/uuid > /www/started && exec httpd -f -p 8080 -h /www"]',
    '    ports: ["8084:8080"]',
    '    stop_signal: SIGKILL',
    '    develop:',
    '      watch:',
    '        - path: ./conf',
    '          target: /conf',
    '          action: sync+restart',
    '        - path: ./hooks',
    '          target: /hooks',
    '          action: sync+exec',
    '          exec: { command: ["sh", "-c", "cp /hooks/page /www/hook.html"] }',
    '',
  ].join('\n'));
  const child = b.spawnTsstack(['-f', file, 'up', '--watch'], dir);
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
    await b.exec('node', [join(REPO, 'bin/tsstack.js'), '-p', 'watch-hooks', 'down'], { cwd: b.base });
    rmSync(dir, { recursive: true, force: true });
  });
  const out = watchOutput(child);
  t.true(await out.waitFor(/watching for changes/, 120_000), out.text());
  const base = 'http://127.0.0.1:8084/';
  const started = await until(() => get(`${base}started`), 5000);
  t.truthy(started, out.text());
  const list = async () => parsePs(await b.exec('node', [join(REPO, 'bin/tsstack.js'), '-p', 'watch-hooks', 'ps', '--format', 'json'], { cwd: b.base }));
  const first = await list();

  writeFileSync(join(dir, 'hooks/page'), 'after the hook\n');
  t.true(await until(async () => (await get(`${base}hook.html`, 500)) === 'after the hook\n', 5000, 50), out.text());
  t.is(await get(`${base}started`), started, 'sync+exec does not restart');

  writeFileSync(join(dir, 'conf/app.conf'), 'two\n');
  const restarted = await until(async () => { const s = await get(`${base}started`, 500); return s && s !== started ? s : ''; }, 15_000, 100);
  t.truthy(restarted, `not restarted:\n${out.text()}`);
  const conf = await b.exec('node', [join(REPO, 'bin/tsstack.js'), '-f', file, 'exec', '-T', 'api', 'cat', '/conf/app.conf']);
  t.is(conf.out, 'two\n');
  t.is(idOf(await list(), 'api'), idOf(first, 'api'), 'restarted in place, not recreated');
  t.not(await interrupt(child, out.exited), 'timeout', out.text());
});

/** A one-service stack whose container prints its GREETING once and then idles. */
function greeterProject(b: Sandbox, name: string): { dir: string; file: string; text: (greeting: string) => string } {
  const dir = join(b.base, name);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'stack.yaml');
  const text = (greeting: string) => [
    `name: ${name}`,
    'services:',
    '  greeter:',
    '    image: tsstack.local/busybox:latest',
    '    command: ["sh", "-c", "echo \\"hello $$GREETING\\"; exec sleep 86400"]',
    `    environment: { GREETING: ${greeting} }`,
    '    stop_signal: SIGKILL',
    '',
  ].join('\n');
  writeFileSync(file, text('one'));
  return { dir, file, text };
}

skipWhen(skip, skip).serial('up --watch: each reconcile\'s plan is shown, then the merged logs of the new container', async (t) => {
  if (imagesError || !box) throw new Error(`the example images could not be made: ${imagesError}`);
  const b = box;
  const { dir, file, text } = greeterProject(b, 'watch-logs');
  const child = b.spawnTsstack(['-f', file, 'up', '--watch'], dir);
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
    await b.exec('node', [join(REPO, 'bin/tsstack.js'), '-p', 'watch-logs', 'down'], { cwd: b.base });
    rmSync(dir, { recursive: true, force: true });
  });
  const out = watchOutput(child);
  t.true(await out.waitFor(/watching for changes/, 120_000), out.text());
  t.true(await out.waitFor(/greeter-1 +\| hello one/, 5000), out.text());
  writeFileSync(file, text('two'));
  t.true(await out.waitFor(/greeter-1 +\| hello two/, 30_000), out.text());
  const o = out.text();
  t.regex(o, /watch: changed: stack\.yaml/);
  const plan = o.search(/watch: plan: recreate service:greeter:1 \([^)]*environment\.GREETING/);
  t.true(plan >= 0, o);
  t.true(plan < o.indexOf('hello two'), 'the plan comes before the new container\'s logs');
  t.regex(o, /watch: watch-logs converged \(1 action/);
  t.is(o.match(/hello one/g)?.length, 1, 'lines already shown are not repeated');
  t.not(await interrupt(child, out.exited), 'timeout', out.text());
  t.deepEqual(parsePs(await b.exec('node', [join(REPO, 'bin/tsstack.js'), '-p', 'watch-logs', 'ps', '--format', 'json'], { cwd: b.base })), []);
});

skipWhen(skip, skip).serial('watch: starts the stack, reconciles on change, and leaves it running on Ctrl-C', async (t) => {
  if (imagesError || !box) throw new Error(`the example images could not be made: ${imagesError}`);
  const b = box;
  const { dir, file, text } = greeterProject(b, 'watch-cmd');
  const list = async () => parsePs(await b.exec('node', [join(REPO, 'bin/tsstack.js'), '-p', 'watch-cmd', 'ps', '--format', 'json'], { cwd: b.base }));
  const child = b.spawnTsstack(['-f', file, 'watch'], dir);
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
    await b.exec('node', [join(REPO, 'bin/tsstack.js'), '-p', 'watch-cmd', 'down'], { cwd: b.base });
    rmSync(dir, { recursive: true, force: true });
  });
  const out = watchOutput(child);
  t.true(await out.waitFor(/watching for changes \(Ctrl-C to stop watching; the stack keeps running\)/, 120_000), out.text());
  const first = await list();
  t.deepEqual(first.map((r) => [r.Service, r.State]), [['greeter', 'running']]);
  writeFileSync(file, text('two'));
  const replaced = await until(async () => { const r = await list(); return r[0] && r[0].ID !== first[0]!.ID && r[0].State === 'running' ? r : undefined; }, 30_000, 100);
  t.truthy(replaced, out.text());
  t.notRegex(out.text(), /\| hello/, 'no container logs (like docker compose watch)');
  t.not(await interrupt(child, out.exited), 'timeout', out.text());
  t.deepEqual((await list()).map((r) => [r.ID, r.State]), [[replaced![0]!.ID, 'running']]);
  // A second `watch` on a converged stack changes nothing before watching.
  const again = b.spawnTsstack(['-f', file, 'watch'], dir);
  t.teardown(() => { if (again.exitCode === null && again.signalCode === null && again.pid) process.kill(again.pid, 'SIGKILL'); });
  const out2 = watchOutput(again);
  t.true(await out2.waitFor(/watching for changes/, 60_000), out2.text());
  t.regex(out2.text(), /up: watch-cmd is up to date/);
  // SIGTERM ends it as Ctrl-C does.
  again.kill('SIGTERM');
  t.is(await Promise.race([out2.exited, new Promise((r) => setTimeout(() => r('timeout'), 30_000))]), 0, out2.text());
  t.deepEqual((await list()).map((r) => r.ID), [replaced![0]!.ID]);
});

skipWhen(skip, skip).serial('watch --no-up: nothing is started until the first change', async (t) => {
  if (imagesError || !box) throw new Error(`the example images could not be made: ${imagesError}`);
  const b = box;
  const { dir, file, text } = greeterProject(b, 'watch-noup');
  const list = async () => parsePs(await b.exec('node', [join(REPO, 'bin/tsstack.js'), '-p', 'watch-noup', 'ps', '-a', '--format', 'json'], { cwd: b.base }));
  const child = b.spawnTsstack(['-f', file, 'watch', '--no-up'], dir);
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
    await b.exec('node', [join(REPO, 'bin/tsstack.js'), '-p', 'watch-noup', 'down'], { cwd: b.base });
    rmSync(dir, { recursive: true, force: true });
  });
  const out = watchOutput(child);
  t.true(await out.waitFor(/watching for changes/, 60_000), out.text());
  t.deepEqual(await list(), []);
  writeFileSync(file, text('two'));
  const started = await until(async () => (await list()).find((r) => r.Service === 'greeter' && r.State === 'running'), 30_000, 100);
  t.truthy(started, out.text());
  t.regex(out.text(), /watch: plan: create service:greeter:1/);
  t.regex(out.text(), /watch: greeter: 1 running/);
  t.not(await interrupt(child, out.exited), 'timeout', out.text());
  t.is((await list()).length, 1);
});

skipWhen(skip, skip).serial('up --watch: sync into a target the image lacks makes it; a rename moves the file; ignored files stay out', async (t) => {
  if (imagesError || !box) throw new Error(`the example images could not be made: ${imagesError}`);
  const { b, file, dir, out, ready } = await startWatching(t, ['up', '--watch'], ({ dir: d, file: f }) => {
    mkdirSync(join(d, 'assets'));
    writeFileSync(f, readFileSync(f, 'utf8').replace('          action: sync\n', '          action: sync\n        - path: ./assets\n          target: /srv/site\n          action: sync\n          ignore: ["*.tmp"]\n'));
  });
  t.true(ready, out.text());
  const inside = async (cmd: string) => (await b.tsstack('-f', file, 'exec', '-T', 'web', 'sh', '-c', cmd)).out;
  t.is(await inside('test -e /srv || echo absent'), 'absent\n', 'the image has no /srv');
  writeFileSync(join(dir, 'assets/a.txt'), 'first\n');
  t.true(await until(async () => (await inside('cat /srv/site/a.txt 2>/dev/null')) === 'first\n', 3000, 50), out.text());
  renameSync(join(dir, 'assets/a.txt'), join(dir, 'assets/b.txt'));
  t.true(await until(async () => (await inside('cat /srv/site/b.txt 2>/dev/null; test -e /srv/site/a.txt && echo still-a')) === 'first\n', 3000, 50), out.text());
  writeFileSync(join(dir, 'assets/scratch.tmp'), 'no\n');
  writeFileSync(join(dir, 'assets/c.txt'), 'third\n');
  t.true(await until(async () => (await inside('cat /srv/site/c.txt 2>/dev/null')) === 'third\n', 3000, 50), out.text());
  t.is(await inside('test -e /srv/site/scratch.tmp && echo synced || echo ignored'), 'ignored\n');
});
