// The start-up structure of bin/tsstack.js (issue 14): the CLI runs from one bundle through a
// V8 code cache, without Node's ES module loader, and a cache is loaded only when it is this
// user's own, for this bundle and this Node: another user's file, a symlink, a file or a
// directory others can write, a cache of another build are ignored (V8 would run it as code).
import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(REPO, 'bin', 'tsstack.js');
const cc = createRequire(import.meta.url)(join(REPO, 'bin', 'code-cache.cjs')) as {
  commandKey(argv: string[]): string;
  safeChain(dir: string, euid: number): boolean;
  readCache(file: string, identity: string, euid: number): { data?: Buffer; why?: string };
  writeCache(dir: string, file: string, identity: string, data: Buffer, euid: number): boolean;
  KEEP: number;
};
const NOBODY = 65534;
const root = process.geteuid?.() === 0;

function tmp(t: { teardown(f: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-code-cache-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** `node [-r probe] bin/tsstack.js ARGS` with the cache in `cacheDir`; stderr's startup lines and the Node modules it loaded. */
function cli(cacheDir: string, args: string[], extra: Record<string, string> = {}): Promise<{ code: number; out: string; trace: string[]; esm: boolean; required: string[] }> {
  const log = join(cacheDir, '..', `modules-${Math.random().toString(36).slice(2)}`);
  const probe = join(cacheDir, '..', 'probe.cjs');
  writeFileSync(probe, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(log)}, JSON.stringify({ internal: process.moduleLoadList, required: Object.keys(require.cache) })));\n`);
  // a root of the test's own: the commands' model caches are written there, not under /var/lib/tsstack
  const env: NodeJS.ProcessEnv = { ...process.env, TSSTACK_CODE_CACHE_DIR: cacheDir, TSSTACK_DEBUG_STARTUP: '1', NO_COLOR: '1', TSSTACK_ROOT: join(cacheDir, '..', 'root'), TSSTACK_RUN_ROOT: join(cacheDir, '..', 'run') };
  delete env.TSSTACK_NO_BUNDLE;
  Object.assign(env, extra);
  return new Promise((resolve) => {
    execFile(process.execPath, ['-r', probe, BIN, ...args], { env, cwd: join(cacheDir, '..') }, (err, out, errOut) => {
      const mods = JSON.parse(readFileSync(log, 'utf8')) as { internal: string[]; required: string[] };
      rmSync(log, { force: true });
      resolve({
        code: err ? (err as { code?: number }).code ?? 1 : 0, out, trace: errOut.split('\n').filter((l) => l.startsWith('startup: ')),
        esm: mods.internal.includes('NativeModule internal/modules/esm/module_job'), required: mods.required.filter((p) => p.startsWith(REPO)).map((p) => p.slice(REPO.length)),
      });
    });
  });
}

test('the cache is named after the command word', (t) => {
  t.is(cc.commandKey(['-f', 'a.yaml', '-p', 'x', 'up', '-d']), 'up');
  t.is(cc.commandKey(['--version']), 'version');
  t.is(cc.commandKey(['--project-directory', 'up', 'build']), 'build');
  t.is(cc.commandKey(['../evil/x']), 'other');
  t.is(cc.commandKey(['--help']), 'other');
});

test('a command runs from the bundle, without the ES module loader, and its code cache is written then used', async (t) => {
  const dir = tmp(t);
  const cache = join(dir, 'cache');
  writeFileSync(join(dir, 'stack.yaml'), 'services:\n  web:\n    image: busybox\n  db:\n    image: busybox\n');
  const first = await cli(cache, ['-f', 'stack.yaml', 'config', '--services']);
  t.is(first.code, 0);
  t.deepEqual(first.out.split('\n').filter(Boolean).sort(), ['db', 'web']);
  t.regex(first.trace[0] ?? '', /bundle .*dist\/cli\/tsstack\.cjs; code cache miss .*config-[0-9a-f]{8}\.bin$/, first.trace.join('\n'));
  t.regex(first.trace[1] ?? '', /code cache written/);
  t.false(first.esm, 'Node\'s ES module loader is not started');
  t.deepEqual(first.required.filter((p) => !p.startsWith('node_modules/')).sort(), ['bin/code-cache.cjs', 'bin/tsstack.js'], 'no module of dist/src is loaded one by one');
  const [file] = readdirSync(cache);
  t.is(statSync(join(cache, file)).mode & 0o777, 0o600);
  t.is(statSync(cache).mode & 0o777, 0o700);

  const again = await cli(cache, ['-f', 'stack.yaml', 'config', '--services']);
  t.is(again.code, 0);
  t.is(again.out, first.out);
  t.regex(again.trace.join('\n'), /code cache hit/);
  t.notRegex(again.trace.join('\n'), /written/);

  // turned off, or module hooks asked for: the modules of dist/src, through the ES module loader
  const plain = await cli(cache, ['--version'], { TSSTACK_NO_BUNDLE: '1' });
  t.is(plain.code, 0);
  t.regex(plain.out, /^tsstack version /);
  t.true(plain.esm);
  t.regex(plain.trace[0] ?? '', /modules of dist\/src \(TSSTACK_NO_BUNDLE\)/);
});

test('the bundle is ASCII, read as a one-byte string; its regular expressions keep their non-ASCII (µs) escaped', (t) => {
  const bundle = readFileSync(join(REPO, 'dist', 'cli', 'tsstack.cjs'));
  t.is(bundle.findIndex((b) => b > 0x7f), -1);
  t.true(bundle.includes('\\u00b5s'), 'the µs of Go durations, escaped');
});

test('a command\'s first run borrows another command\'s cache of the same bundle, then has its own', async (t) => {
  const dir = tmp(t);
  const cache = join(dir, 'cache');
  t.is((await cli(cache, ['--version'])).code, 0);
  const first = await cli(cache, ['ls']);
  t.is(first.code, 0);
  t.regex(first.trace.join('\n'), /code cache borrowed from .*version-[0-9a-f]{8}\.bin .*ls-[0-9a-f]{8}\.bin[\s\S]*written/);
  const again = await cli(cache, ['ls']);
  t.regex(again.trace.join('\n'), /code cache hit .*ls-/);
  t.deepEqual(readdirSync(cache).map((n) => n.split('-')[0]).sort(), ['ls', 'version']);
  // with a bigger cache there too (`ls` compiled more than `--version`), the smallest is borrowed:
  // V8 writes all that was compiled, so a command's own cache would keep the bigger one's code
  const ls = readdirSync(cache).find((n) => n.startsWith('ls-'))!;
  const version = readdirSync(cache).find((n) => n.startsWith('version-'))!;
  t.true(statSync(join(cache, ls)).size > statSync(join(cache, version)).size);
  const other = await cli(cache, ['images']);
  t.regex(other.trace.join('\n'), /code cache borrowed from .*version-[0-9a-f]{8}\.bin/);
});

test('a cache written by a run that parsed the stack file is replaced by one from a steady run, which is smaller', async (t) => {
  const dir = tmp(t);
  const cache = join(dir, 'cache');
  writeFileSync(join(dir, 'stack.yaml'), 'services:\n  web:\n    image: busybox\n');
  const plan = () => cli(cache, ['-f', 'stack.yaml', 'plan']);
  const kind = () => { const f = join(cache, readdirSync(cache).find((n) => n.startsWith('plan-'))!); return { kind: readFileSync(f, 'latin1').split('\n')[2], size: statSync(f).size }; };
  const first = await plan(); // parses the stack file: no model is cached yet
  t.is(first.code, 0, first.out);
  t.regex(first.trace.join('\n'), /code cache written \(first\)/);
  const written = kind();
  t.is(written.kind, 'first');
  // a run with the model cached (once the stack file is older than the racy window) that used the engine: steady,
  // run from the first run's cache, which it marks to be replaced
  let marked = false;
  for (let i = 0; i < 4 && !marked; i++) marked = /a steady run will replace it/.test((await plan()).trace.join('\n'));
  t.true(marked);
  t.is(kind().kind, 'wanted');
  const next = await plan(); // compiles as a first run does, and writes the steady cache
  t.regex(next.trace.join('\n'), /code cache wanted[\s\S]*written \(steady\)/);
  const steady = kind();
  t.is(steady.kind, 'steady');
  t.true(steady.size < written.size, `steady ${steady.size} < first ${written.size}: the stack file's parser is not in it`);
  const later = await plan();
  t.regex(later.trace.join('\n'), /code cache hit/);
  t.notRegex(later.trace.join('\n'), /written|replace/);
});

/** A cache directory with the one file `--version` wrote: its path and contents. */
async function primed(t: ExecutionContext): Promise<{ dir: string; cache: string; file: string; good: Buffer }> {
  const dir = tmp(t);
  const cache = join(dir, 'cache');
  t.is((await cli(cache, ['--version'])).code, 0);
  const file = join(cache, readdirSync(cache)[0]!);
  return { dir, cache, file, good: readFileSync(file) };
}

test('a cache of another build or one V8 refuses is rewritten; the command runs either way', async (t) => {
  const { cache, file, good } = await primed(t);
  const head = good.indexOf('\n', good.indexOf('\n', good.indexOf('\n') + 1) + 1) + 1; // magic, identity, kind

  writeFileSync(file, Buffer.concat([Buffer.from('tsstack-code-cache 1\nv0.0.0 x64 1:2:3:4:5\n'), good.subarray(head)]));
  const stale = await cli(cache, ['--version']);
  t.is(stale.code, 0);
  t.regex(stale.trace.join('\n'), /code cache stale[\s\S]*written/);
  t.is(readFileSync(file).subarray(0, head).toString(), good.subarray(0, head).toString(), 'rewritten for this build');

  writeFileSync(file, Buffer.concat([good.subarray(0, head), Buffer.alloc(4096, 7)]));
  const rejected = await cli(cache, ['--version']);
  t.is(rejected.code, 0);
  t.regex(rejected.out, /^tsstack version /);
  t.regex(rejected.trace.join('\n'), /code cache rejected[\s\S]*written/);
  t.true(readFileSync(file).length > 4096 + head);
});

test('a write keeps the directory to the newest caches: those of checkouts gone stay no longer', (t) => {
  const dir = join(tmp(t), 'code');
  mkdirSync(dir, { mode: 0o700 });
  const euid = process.geteuid?.() ?? 0;
  const old = Date.now() / 1000 - 3600;
  for (let i = 0; i < cc.KEEP + 5; i++) {
    const f = join(dir, `up-${String(i).padStart(8, '0')}.bin`);
    writeFileSync(f, 'x', { mode: 0o600 });
    utimesSync(f, old + i, old + i);
  }
  writeFileSync(join(dir, 'notes.txt'), 'not a cache');
  t.true(cc.writeCache(dir, join(dir, 'ps-new.bin'), 'id', Buffer.from('data'), euid));
  const left = readdirSync(dir).filter((n) => n.endsWith('.bin')).sort();
  t.is(left.length, cc.KEEP);
  t.true(left.includes('ps-new.bin'), 'the one just written stays');
  t.false(left.includes('up-00000000.bin'), 'the oldest went');
  t.true(left.includes(`up-${String(cc.KEEP + 4).padStart(8, '0')}.bin`), 'the newest stayed');
  t.true(existsSync(join(dir, 'notes.txt')), 'only caches are removed');
});

(root ? test : test.skip)('a cache another user could have written is never loaded (root runs it)', async (t) => {
  const { dir, cache, file, good } = await primed(t);
  const id = good.subarray(0, good.indexOf('\n', good.indexOf('\n') + 1)).toString().split('\n')[1];
  t.truthy(cc.readCache(file, id, 0).data);

  // owned by another user
  chownSync(file, NOBODY, NOBODY);
  t.is(cc.readCache(file, id, 0).why, 'foreign');
  const foreign = await cli(cache, ['--version']);
  t.is(foreign.code, 0);
  t.regex(foreign.trace.join('\n'), /code cache foreign/);
  t.notRegex(foreign.trace.join('\n'), /written/, 'left alone');
  t.is(statSync(file).uid, NOBODY);
  chownSync(file, 0, 0);

  // ours, but others may write it
  chmodSync(file, 0o666);
  t.is(cc.readCache(file, id, 0).why, 'foreign');
  chmodSync(file, 0o600);
  // a symlink to our own good cache is not followed
  const link = join(cache, 'link.bin');
  symlinkSync(file, link);
  t.is(cc.readCache(link, id, 0).why, 'foreign');
  t.truthy(cc.readCache(file, id, 0).data);

  // a directory on the way that another user owns, or a symlink, or one others can write
  t.true(cc.safeChain(cache, 0));
  const theirs = join(dir, 'theirs');
  mkdirSync(join(theirs, 'code'), { recursive: true });
  chownSync(theirs, NOBODY, NOBODY);
  t.false(cc.safeChain(join(theirs, 'code'), 0));
  t.false(cc.safeChain(join(theirs, 'code', 'not-yet'), 0));
  const viaLink = join(dir, 'via-link');
  symlinkSync(cache, viaLink);
  t.false(cc.safeChain(viaLink, 0));
  const open = join(dir, 'open');
  mkdirSync(open, { mode: 0o777 });
  chmodSync(open, 0o777);
  t.false(cc.safeChain(join(open, 'code'), 0));
  chmodSync(open, 0o1777);
  t.true(cc.safeChain(join(open, 'code'), 0), 'sticky, like /tmp');
  const under = await cli(join(theirs, 'code'), ['--version']);
  t.is(under.code, 0);
  t.regex(under.trace.join('\n'), /no safe cache directory/);
  t.false(existsSync(join(theirs, 'code', basename(file))), 'nothing written there either');
});

test('the CLI exits once its loop is empty, and what it wrote reaches a reader that is slow to read, whole', async (t) => {
  // bin/tsstack.js exits as soon as nothing is left to do (no heap teardown): output larger than a
  // pipe holds, read only after a pause, must still arrive whole, with the command's own exit code
  const dir = tmp(t);
  const n = 800;
  writeFileSync(join(dir, 'stack.yaml'), `services:\n${Array.from({ length: n }, (_, i) => `  s${i}:\n    image: busybox:latest\n    command: ["sleep", "${i}"]\n`).join('')}`);
  const env: NodeJS.ProcessEnv = { ...process.env, TSSTACK_CODE_CACHE_DIR: join(dir, 'cache'), TSSTACK_ROOT: join(dir, 'root'), TSSTACK_RUN_ROOT: join(dir, 'run'), NO_COLOR: '1' };
  const { spawn } = await import('node:child_process');
  const run = (args: string[]) => new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env, stdio: ['ignore', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    // not read for a while: the writer blocks on the full pipe meanwhile
    setTimeout(() => child.stdout.on('data', (c: Buffer) => chunks.push(c)), 300);
    child.on('close', (code) => resolve({ code, out: Buffer.concat(chunks).toString() }));
  });
  const { code, out } = await run(['config']);
  t.is(code, 0);
  t.true(out.length > 64 * 1024, `${out.length} bytes: more than a pipe holds`);
  t.is(out.match(/^ {2}s\d+:$/gm)?.length, n);
  t.regex(out, /- "799"\n/);
  t.is((await run(['no-such-command'])).code, 2, 'a usage error keeps its exit code');
});
