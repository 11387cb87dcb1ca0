// Builds native/<part>/*.c (plus native/common/*.c) into native/bin/tsstack-<part>
// with the system C compiler. No downloads; rebuilds only when a source is newer.
import { readdirSync, statSync, mkdirSync, existsSync, renameSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'native');
const bin = join(root, 'bin');
mkdirSync(bin, { recursive: true });
const cc = process.env.CC || 'cc';
const cflags = ['-O2', '-g', '-Wall', '-Wextra', '-Wno-unused-parameter', '-std=gnu11', '-D_GNU_SOURCE'];

const cfiles = (dir) => existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.c')).map((f) => join(dir, f)) : [];
const headers = (dir) => existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.h')).map((f) => join(dir, f)) : [];
const common = cfiles(join(root, 'common'));
const mtime = (f) => statSync(f).mtimeMs;

let staticCache;
/** Whether the C library can be linked statically here (libc.a present). */
function staticOk() {
  if (staticCache === undefined) {
    try {
      execFileSync(cc, ['-static', '-x', 'c', '-o', '/dev/null', '-'], { input: 'int main(void){return 0;}', stdio: ['pipe', 'ignore', 'ignore'] });
      staticCache = true;
    } catch {
      staticCache = false;
    }
  }
  return staticCache;
}

let failed = false;
for (const part of readdirSync(root)) {
  if (['bin', 'obj', 'common'].includes(part)) continue;
  const dir = join(root, part);
  if (!statSync(dir).isDirectory()) continue;
  const srcs = cfiles(dir).filter((f) => !f.endsWith('_test.c'));
  if (srcs.length === 0) continue;
  const out = join(bin, `tsstack-${part}`);
  const inputs = [...srcs, ...common, ...headers(dir), ...headers(join(root, 'common'))];
  if (existsSync(out) && !process.argv.includes('--force') && inputs.every((f) => mtime(f) <= mtime(out))) continue;
  // The runtime is linked statically: it starts once per container, and
  // dynamic loading is a measurable part of its start-up. The init runs inside
  // containers, whose root may have no (or another) C library. The monitor (and
  // its guard, a fork of it) stays for each container's life: linked statically
  // it maps no shared C library and its dynamic loader's state, which halves its
  // resident memory (bench/monitor-memory.sh: 2.5 → 1.3 MiB RSS per container).
  const ldflags = (part === 'runtime' || part === 'init' || part === 'monitor') && staticOk() ? ['-static'] : [];
  // Link to a temporary name and rename: a binary being executed (by tests
  // running meanwhile) is replaced whole, never seen half-written.
  const tmp = `${out}.tmp-${process.pid}`;
  const args = [...cflags, '-I', join(root, 'common'), '-I', dir, '-o', tmp, ...srcs, ...common, ...ldflags];
  try {
    execFileSync(cc, args, { stdio: 'inherit' });
    renameSync(tmp, out);
    console.log(`built ${out}`);
  } catch {
    rmSync(tmp, { force: true });
    console.error(`native build failed: ${part}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
