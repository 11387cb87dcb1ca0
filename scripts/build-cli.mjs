// Bundles the compiled CLI (dist/src/cli/main.js and everything it can import) into
// one CommonJS file, dist/cli/tsstack.cjs, that bin/tsstack.js loads through a V8
// code cache (bin/code-cache.cjs says how). One file read and a cache
// deserialised instead of resolving, reading and compiling each ES module: Node's
// ES module loader alone costs ~10 ms before the first line of tsstack runs.
//
// The bundle is built from dist/, after tsc, so the tests (which import dist/src/…)
// and the CLI run the same code. Modules keep their own import.meta.url (the path
// of their dist/ file), so files found relative to a module (package.json,
// native/bin, the ui worker, assets) are found as before. Native addons and the
// large, ESM-only cluster clients stay outside (required when used). Without esbuild
// (an install without dev dependencies) nothing is bundled and bin/ runs dist/src/.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(repo, 'dist');
const outfile = join(dist, 'cli', 'tsstack.cjs');
/** Loaded with require() when a command uses them: native code, or big and used by `deploy` only. */
const EXTERNAL = ['koffi', 'dockerode', '@kubernetes/client-node'];

let esbuild;
try {
  esbuild = createRequire(import.meta.url)('esbuild');
} catch {
  await rm(outfile, { force: true }); // never leave an older bundle beside newer modules
  console.log('build-cli: esbuild is not installed (dev dependency): bin/tsstack.js runs dist/src/ unbundled');
  process.exit(0);
}

/** Each module's import.meta.url, as the URL of its file in dist/ (relative to the bundle, so a moved checkout still works). */
const metaUrl = {
  name: 'import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, async (a) => {
      const src = await readFile(a.path, 'utf8');
      if (!src.includes('import.meta')) return undefined;
      const rel = JSON.stringify(relative(dirname(outfile), a.path));
      return { contents: src.replaceAll('import.meta.url', `require("node:url").pathToFileURL(require("node:path").join(__dirname, ${rel})).href`), loader: 'js' };
    });
  },
};

/**
 * `await import('node:fs')` as require(): a script run from a code cache has no
 * dynamic import() (Node registers no callback for it), so the bundle must contain none.
 */
const builtinImports = {
  name: 'builtin-imports',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (a) => (a.kind === 'dynamic-import' ? { path: a.path, namespace: 'builtin' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (a) => ({ contents: `module.exports = require(${JSON.stringify(a.path)});`, loader: 'js' }));
  },
};

/**
 * Builtins that cost milliseconds to load and that many modules import for one call made
 * sometimes (a spawn of `mount` as a fallback, a streamed hash of image content): loaded at
 * the first use of one of their exports, not when the importing module is initialised.
 * Each becomes a module of getters over the real one, its names taken from this Node's at
 * build time. node:child_process took 1–3 ms of every command, node:fs/promises ~2, node:net ~4
 * (with node:stream), node:crypto 4–6.
 */
const LAZY_BUILTINS = ['node:child_process', 'node:fs/promises', 'node:net', 'node:crypto', 'node:stream', 'node:stream/promises', 'node:module'];
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (a) => (LAZY_BUILTINS.includes(a.path) && a.kind === 'import-statement' && a.namespace !== 'lazy-builtin'
      ? { path: a.path, namespace: 'lazy-builtin' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, async (a) => {
      const names = Object.keys(await import(a.path)).filter((k) => k !== 'default' && /^[A-Za-z_$][\w$]*$/.test(k));
      return {
        loader: 'js',
        contents: `let m; const real = () => (m ??= require(${JSON.stringify(a.path)}));
for (const k of ${JSON.stringify(names)}) Object.defineProperty(exports, k, { enumerable: true, get: () => real()[k] });
`,
      };
    });
  },
};

/**
 * `koffi` as its native module, loaded directly: the package's own JavaScript finds it by
 * resolving two packages' exports, reading the ELF header of Node's binary for its libc and
 * creating a require (which loads Node's ES module loader) — ~10 ms of every command that
 * mounts, locks or talks netlink. What it adds to the native module is deprecated aliases,
 * which tsstack does not use. The prebuilt binary is the one `npm ci` put beside the
 * checkout (glibc's, else musl's), and only of the version the package is; anything else
 * (another layout of node_modules, another version) loads the package as before.
 */
const koffiVersion = JSON.parse(await readFile(join(repo, 'node_modules', 'koffi', 'package.json'), 'utf8').catch(() => '{}')).version;
const koffiDirect = {
  name: 'koffi-direct',
  setup(b) {
    if (!koffiVersion) return;
    b.onResolve({ filter: /^koffi$/ }, (a) => (a.namespace === 'koffi-direct' ? { path: 'koffi', external: true } // its fallback: the package
      : a.kind === 'dynamic-import' ? undefined : { path: 'koffi', namespace: 'koffi-direct' }));
    b.onLoad({ filter: /.*/, namespace: 'koffi-direct' }, () => ({
      loader: 'js',
      contents: `const { join } = require('node:path');
function direct() {
  const dir = join(__dirname, '..', '..', 'node_modules', '@koromix', \`koffi-\${process.platform}-\${process.arch}\`);
  for (const libc of [process.platform, 'musl']) {
    const m = { exports: {} };
    try {
      process.dlopen(m, join(dir, \`\${libc}_\${process.arch}\`, 'koffi.node'));
    } catch {
      continue; // absent, or the other libc's
    }
    if (m.exports.version === ${JSON.stringify(koffiVersion)}) return m.exports;
  }
  return undefined;
}
module.exports = direct() ?? require('koffi');
`,
    }));
  },
};

const result = await esbuild.build({
  entryPoints: [join(dist, 'src', 'cli', 'main.js')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  charset: 'ascii', // read back as latin1: a one-byte string, no UTF-8 decoding
  minifyWhitespace: true, // fewer bytes to read; names stay (stack traces, messages)
  minifySyntax: true,
  lineLimit: 160, // an uncaught error prints its source line: keep lines short
  external: EXTERNAL,
  define: { __TSSTACK_BUNDLE__: 'true' }, // src/cli/code-identity.ts
  // the file is one function expression: bin/code-cache.cjs runs it with CommonJS's arguments
  banner: { js: '(function (exports, require, module, __filename, __dirname) {' },
  footer: { js: '})' },
  metafile: true,
  logLevel: 'warning',
  plugins: [metaUrl, builtinImports, lazyBuiltins, koffiDirect],
});

const left = Object.values(result.metafile.outputs)[0].imports.filter((i) => i.kind === 'dynamic-import');
if (left.length) {
  await rm(outfile, { force: true });
  console.error(`build-cli: the bundle would keep import() of ${left.map((i) => i.path).join(', ')}, which fails from a code cache; import them statically or keep them out of EXTERNAL`);
  process.exit(1);
}
// esbuild escapes non-ASCII in strings and identifiers but leaves it in regular expression
// literals (the `µs` of durations): escape those too, so bin/ reads the file as latin1 (a
// UTF-8 read makes a two-byte string, ~10 ms more). \uXXXX means the same in a regex, a
// string or a name; only String.raw would see the difference, and none is left to see it.
const text = await readFile(outfile, 'utf8');
if (/[^\x00-\x7f]/.test(text)) {
  if (text.split('\n').some((l) => /[^\x00-\x7f]/.test(l) && l.includes('String.raw'))) {
    await rm(outfile, { force: true });
    console.error('build-cli: non-ASCII text beside String.raw in the bundle: escape it in the source');
    process.exit(1);
  }
  const ascii = text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`); // per UTF-16 unit: surrogate pairs stay pairs
  await writeFile(outfile, ascii, 'latin1');
}
const size = (await stat(outfile)).size;
console.log(`built ${relative(repo, outfile)} (${(size / 1024).toFixed(0)} KiB)`);
// One run writes this user's code cache of the new bundle, which each command borrows on its
// first run (bin/code-cache.cjs) instead of compiling the whole bundle (~35 ms); best effort.
spawnSync(process.execPath, [join(repo, 'bin', 'tsstack.js'), '--version'], { stdio: 'ignore', timeout: 30_000 });
