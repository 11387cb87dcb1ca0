'use strict';
// How bin/tsstack.js starts the CLI fast: from the one-file bundle dist/cli/tsstack.cjs
// (scripts/build-cli.mjs) compiled through a V8 code cache, instead of Node's ES module
// loader resolving, reading and compiling each module of dist/src/ (issue 14).
//
// The code cache is V8's compiled form of the functions a command ran, written by the
// first run of that command (one file per command word, so `up` does not load what
// `build` compiled) and used by the next ones. V8 trusts it like code: a file another
// user could have written must never be loaded, least of all by root. So a cache is
// read only from a directory whose every component is a real directory owned by root
// or by us and writable by nobody else (or sticky, like /tmp), and only a regular file
// we own that nobody else can write. Its header names the Node version and the
// bundle's identity (device, inode, size, mtime, ctime): a rebuilt bundle or another
// Node is a miss. A cache V8 rejects (other V8 flags) is rewritten. Anything amiss
// falls back to compiling the bundle, never to an error.
//
// Where: TSSTACK_CODE_CACHE_DIR (off: none), else root's /var/cache/tsstack/code, else
// $XDG_CACHE_HOME/tsstack/code or ~/.cache/tsstack/code. TSSTACK_NO_BUNDLE=1, or module
// hooks on the command line (--import, --loader: they want to see the modules), run
// dist/src/ as before. TSSTACK_DEBUG_STARTUP=1 says on stderr which way it started.

const fs = require('node:fs');
const path = require('node:path');

const DIST = path.join(__dirname, '..', 'dist');
const BUNDLE = path.join(DIST, 'cli', 'tsstack.cjs');
const MAIN = path.join(DIST, 'src', 'cli', 'main.js');
const MAGIC = 'tsstack-code-cache 2';
/** Global options that take a value (main.ts GLOBALS), to find the command word after them. */
const VALUE_OPTIONS = new Set(['-f', '--file', '-p', '--project-name', '--profile', '--env-file', '--project-directory', '--root', '--runtime']);

/** The name a command's cache goes under: its first word (`up`, `image`), `version`, or `other`. */
function commandKey(argv) {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--version' || a === '-v') return 'version';
    if (VALUE_OPTIONS.has(a)) i++;
    else if (!a.startsWith('-')) return /^[a-z][a-z-]{0,15}$/.test(a) ? a : 'other';
  }
  return 'other';
}

/** The cache directories to use, first that is safe: see the top of this file. */
function cacheDirs(env, euid) {
  const set = env.TSSTACK_CODE_CACHE_DIR;
  if (set !== undefined) return set === '' || set === 'off' || !path.isAbsolute(set) ? [] : [set];
  const home = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME
    : env.HOME && path.isAbsolute(env.HOME) ? path.join(env.HOME, '.cache') : undefined;
  return [...(euid === 0 ? ['/var/cache/tsstack/code'] : []), ...(home ? [path.join(home, 'tsstack', 'code')] : [])];
}

/**
 * Whether no other user can change what `dir` names: each existing component a real
 * directory (no symlink), owned by root or `euid`, not writable by group or others
 * unless sticky (then the next component must be ours or root's, which is checked).
 */
function safeChain(dir, euid) {
  let p = path.parse(dir).root;
  for (const part of ['', ...path.resolve(dir).split(path.sep).filter(Boolean)]) {
    p = part ? path.join(p, part) : p;
    let st;
    try {
      st = fs.lstatSync(p);
    } catch (e) {
      return e.code === 'ENOENT'; // the rest is made by us, under a safe parent
    }
    if (!st.isDirectory() || (st.uid !== 0 && st.uid !== euid)) return false;
    if ((st.mode & 0o022) && !(st.mode & 0o1000)) return false;
  }
  return true;
}

/**
 * What a cache holds, on the line after its identity. V8 writes every function compiled by the time
 * of the write, and a command's first run in a new project also parses the stack file and plans its
 * first network: `steady` is a cache written by a run that did neither but used the engine (what most
 * runs do); `first`, one written by any other run, used all the same; `wanted`, a first run's cache
 * that a steady run found (no code): the next runs borrow as a first run does, and the next steady
 * one writes the command's steady cache. `run`'s cache was 1.2 MB written by its first run, 0.83 MB by
 * a later one: ~3 ms of every later run's start.
 */
const KINDS = new Set(['steady', 'first', 'wanted']);

/** The code cache in `file` for a bundle of `identity` ({ data, kind }); why not otherwise. */
function readCache(file, identity, euid) {
  // looked for first: a command's first run has none, and a failed open throws (~25 us)
  if (!fs.existsSync(file)) return { why: 'miss' };
  let fd;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (e) {
    return { why: e.code === 'ENOENT' ? 'miss' : 'foreign' }; // ELOOP: a symlink is never followed
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.uid !== euid || (st.mode & 0o022)) return { why: 'foreign' };
    const buf = fs.readFileSync(fd);
    const head = Buffer.from(`${MAGIC}\n${identity}\n`, 'latin1');
    if (buf.length <= head.length || !buf.subarray(0, head.length).equals(head)) return { why: 'stale' };
    const nl = buf.indexOf(10, head.length);
    const kind = nl < 0 ? '' : buf.subarray(head.length, nl).toString('latin1');
    if (!KINDS.has(kind)) return { why: 'stale' };
    if (kind === 'wanted') return { why: 'wanted' };
    return { data: buf.subarray(nl + 1), kind };
  } catch {
    return { why: 'foreign' };
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes a cache atomically (temp file of ours, fsync, rename) into `dir`, made 0700 if missing. */
function writeCache(dir, file, identity, data, euid, kind = 'steady') {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!safeChain(dir, euid)) return false;
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
  try {
    fs.writeSync(fd, `${MAGIC}\n${identity}\n${kind}\n`, null, 'latin1');
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
  prune(dir, file);
  return true;
}

/** How many caches a directory keeps: every checkout, command word and set of Node options has its own. */
const KEEP = 128;

/**
 * Removes the least recently written caches beyond KEEP (checkouts and builds come and
 * go; their caches would stay for ever). Only on a write, which is rare; a cache removed
 * while still in use is just written again by its command's next run.
 */
function prune(dir, keep) {
  const caches = [];
  for (const n of fs.readdirSync(dir)) {
    if (!n.endsWith('.bin')) continue;
    const f = path.join(dir, n);
    try {
      const st = fs.lstatSync(f);
      if (st.isFile() && f !== keep) caches.push({ f, t: st.mtimeMs });
    } catch { /* gone meanwhile */ }
  }
  caches.sort((a, b) => a.t - b.t);
  for (const c of caches.slice(0, Math.max(0, caches.length + 1 - KEEP))) fs.rmSync(c.f, { force: true });
}

/**
 * Another command's valid cache of this bundle in `dir`, if any (checked as its own would be):
 * the smallest, as this command's own cache will hold everything the borrowed one did (V8
 * writes every function compiled by then), and a bigger one costs every later run its reading.
 */
function borrow(dir, suffix, own, identity, euid) {
  let names;
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith(suffix));
  } catch {
    return undefined;
  }
  const sized = [];
  for (const n of names) {
    const f = path.join(dir, n);
    if (f === own) continue;
    try {
      sized.push({ f, size: fs.lstatSync(f).size });
    } catch { /* gone meanwhile */ }
  }
  sized.sort((a, b) => a.size - b.size || (a.f < b.f ? -1 : 1));
  for (const { f } of sized) {
    const c = readCache(f, identity, euid);
    if (c.data) return { data: c.data, from: f };
  }
  return undefined;
}

/** A short, stable name for a path (FNV-1a): one cache per checkout, whatever its path. */
function pathKey(p) {
  let h = 0x811c9dc5;
  for (let i = 0; i < p.length; i++) h = Math.imul(h ^ p.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/** Why the bundle is not used, or undefined when it is. */
function notBundled(env, execArgv) {
  if (env.TSSTACK_NO_BUNDLE) return 'TSSTACK_NO_BUNDLE';
  if (execArgv.some((a) => /^--(import|loader|experimental-loader)\b/.test(a))) return 'module hooks';
  if (!process.features.require_module) return 'Node without require(esm)'; // the external cluster clients are ES modules
  return undefined;
}

/**
 * The CLI's exports from the bundle (loaded through this user's code cache), and
 * `save(code)` to write that cache after a successful first run; undefined when the
 * bundle is not to be used (missing, older than dist/src/, or turned off): then
 * bin/tsstack.js imports dist/src/cli/main.js.
 */
function loadBundled(argv, env = process.env) {
  // written to the descriptor: process.stderr would make Node's stream (and load node:net for a pipe)
  const trace = (s) => { if (env.TSSTACK_DEBUG_STARTUP) fs.writeSync(2, `startup: ${s}\n`); };
  const off = notBundled(env, process.execArgv);
  if (off) return trace(`modules of dist/src (${off})`);
  let fd;
  let st;
  try {
    fd = fs.openSync(BUNDLE, 'r');
    st = fs.fstatSync(fd);
    if (st.mtimeMs < fs.statSync(MAIN).mtimeMs) {
      fs.closeSync(fd);
      return trace('modules of dist/src (the bundle is older: npm run build)');
    }
  } catch {
    if (fd !== undefined) fs.closeSync(fd);
    return trace('modules of dist/src (no bundle: npm run build)');
  }
  const src = fs.readFileSync(fd, 'latin1'); // the bundle is ASCII (charset: 'ascii')
  fs.closeSync(fd);

  const euid = process.geteuid();
  const identity = `${process.version} ${process.arch} ${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  const dir = cacheDirs(env, euid).find((d) => safeChain(d, euid));
  // Node options change V8's flags, and V8 refuses a cache made under other flags: `ui`'s
  // lean re-exec (src/ui/lean-exec.ts) keeps caches apart from the plain runs'.
  const suffix = `-${pathKey([BUNDLE, ...process.execArgv].join('\0'))}.bin`;
  const file = dir && path.join(dir, `${commandKey(argv)}${suffix}`);
  let cached = file ? readCache(file, identity, euid) : { why: 'no safe cache directory' };
  // This command's first run with this bundle: another command's cache of it (`npm run build`
  // leaves one: scripts/build-cli.mjs) spares compiling the whole bundle; then its own is written.
  const wanted = cached.why === 'wanted';
  if (cached.why === 'miss' || cached.why === 'stale' || wanted) cached = borrow(dir, suffix, file, identity, euid) ?? cached;

  const vm = require('node:vm');
  const script = new vm.Script(src, { filename: BUNDLE, cachedData: cached.data });
  const state = cached.data ? (script.cachedDataRejected ? 'rejected' : cached.from ? 'borrowed' : 'hit') : cached.why;
  trace(`bundle ${BUNDLE}; code cache ${state}${cached.from ? ` from ${cached.from}` : ''}${file ? ` ${file}` : ''}`);
  const module = { exports: {} };
  // This file's own require: the bundle requires only packages (koffi, the cluster clients) and
  // builtins, found the same from bin/ as from dist/cli/; createRequire would load node:module,
  // and with it the ES module loader (~4 ms).
  script.runInThisContext()(module.exports, require, module, BUNDLE, path.dirname(BUNDLE));
  return {
    exports: module.exports,
    save(code) {
      if (code !== 0 || !file || state === 'foreign') return;
      // what the run did, as the CLI noted it (src/cli/code-cache-run.ts)
      const run = globalThis[Symbol.for('tsstack.codeCacheRun')] ?? {};
      const steady = !!run.engine && !run.parsed;
      try {
        if (state === 'hit') {
          if (cached.kind === 'first' && steady && writeCache(dir, file, identity, Buffer.alloc(0), euid, 'wanted')) trace(`code cache of a first run: a steady run will replace it ${file}`);
          return;
        }
        if (wanted && !steady) return;
        if (writeCache(dir, file, identity, script.createCachedData(), euid, steady ? 'steady' : 'first')) trace(`code cache written (${steady ? 'steady' : 'first'}) ${file}`);
      } catch (e) {
        trace(`code cache not written: ${e.message}`);
      }
    },
  };
}

module.exports = { loadBundled, commandKey, cacheDirs, safeChain, readCache, writeCache, BUNDLE, KEEP };
