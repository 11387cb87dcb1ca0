// Builds native/<part>/*.c (plus native/common/*.c) into native/bin/tsstack-<part>
// with the system C compiler (the monitor, its guard and the runtime with musl-gcc when installed). No downloads;
// rebuilds only when a source is newer or the compiler chosen for a part changed.
import { readdirSync, statSync, mkdirSync, existsSync, renameSync, rmSync, readFileSync, writeFileSync, readlinkSync, symlinkSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'native');
const bin = join(root, 'bin');
const obj = join(root, 'obj'); // what each binary was built with (<part>.recipe)
mkdirSync(bin, { recursive: true });
mkdirSync(obj, { recursive: true });
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

let muslCache;
/** musl-gcc (Debian's musl-tools), when it is installed and links a static binary here. */
function muslCc() {
  if (muslCache === undefined) {
    const musl = process.env.TSSTACK_MUSL_CC ?? 'musl-gcc';
    try {
      execFileSync(musl, ['-static', '-x', 'c', '-o', '/dev/null', '-'], { input: 'int main(void){return 0;}', stdio: ['pipe', 'ignore', 'ignore'] });
      muslCache = musl;
    } catch {
      muslCache = null;
    }
  }
  return muslCache;
}

let kernelHeadersCache;
/**
 * A directory of the kernel's headers (linux/, asm/, asm-generic/: Debian's linux-libc-dev) for musl-gcc,
 * which leaves /usr/include out; null when they are not installed. Links only: the kernel's interface
 * headers belong to no C library.
 */
function kernelHeaders() {
  if (kernelHeadersCache !== undefined) return kernelHeadersCache;
  kernelHeadersCache = null;
  let multiarch = '';
  try {
    multiarch = execFileSync(cc, ['-print-multiarch'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch { /* not gcc: asm/ is then looked for in /usr/include alone */ }
  const asm = [multiarch && join('/usr/include', multiarch, 'asm'), '/usr/include/asm'].find((d) => d && existsSync(join(d, 'unistd.h')));
  if (!asm || !existsSync('/usr/include/linux/filter.h') || !existsSync('/usr/include/asm-generic')) return null;
  const dir = join(obj, 'kernel-headers');
  mkdirSync(dir, { recursive: true });
  for (const [name, target] of [['linux', '/usr/include/linux'], ['asm', asm], ['asm-generic', '/usr/include/asm-generic']]) {
    const link = join(dir, name);
    let now;
    try { now = readlinkSync(link); } catch { /* missing */ }
    if (now !== target) {
      rmSync(link, { force: true });
      symlinkSync(target, link);
    }
  }
  return (kernelHeadersCache = dir);
}

/** Compiler and link flags of a part. */
function recipe(part) {
  // The monitor and its guard stay for each container's life, so their resident pages are paid per container. Linked
  // statically against musl it maps ~110 KiB of code instead of glibc's ~850 KiB, and touches a
  // fraction of it (bench/monitor-memory.sh). Without musl-tools the glibc link still works.
  if ((part === 'monitor' || part === 'guard') && !process.env.CC) {
    const musl = muslCc();
    // Sized for pages, not speed: it sleeps in poll(2) nearly all its life; unused code is dropped.
    if (musl) return { cc: musl, cflags: ['-Os', '-ffunction-sections', '-fdata-sections'], ldflags: ['-static', '-Wl,--gc-sections'] };
    console.warn(`tsstack build: musl-gcc not found (Debian: apt-get install musl-tools); linking tsstack-${part} with the system C library, which costs more memory per container`);
  }
  // The runtime starts once per container (twice for a `run --rm`: its run and its delete). glibc's start-up
  // asks the CPU for its features and caches with ~35 CPUID instructions, each a trap to the hypervisor in a
  // virtual machine: ~0.4 ms of every start here, which musl does not spend. It needs the kernel's headers.
  if (part === 'runtime' && !process.env.CC) {
    const musl = muslCc(), headers = musl && kernelHeaders();
    if (musl && headers) return { cc: musl, cflags: ['-isystem', headers], ldflags: ['-static'] };
  }
  // The runtime is linked statically: it starts once per container, and
  // dynamic loading is a measurable part of its start-up. The init runs inside
  // containers, whose root may have no (or another) C library. The monitor (and
  // its guard) stays for each container's life: linked statically it maps no
  // shared C library and its dynamic loader's state.
  return { cc, cflags: [], ldflags: ['runtime', 'init', 'monitor', 'guard'].includes(part) && staticOk() ? ['-static'] : [] };
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
  const r = recipe(part);
  const stamp = join(obj, `${part}.recipe`);
  const said = JSON.stringify(r);
  const same = existsSync(stamp) && readFileSync(stamp, 'utf8') === said;
  if (existsSync(out) && same && !process.argv.includes('--force') && inputs.every((f) => mtime(f) <= mtime(out))) continue;
  // Link to a temporary name and rename: a binary being executed (by tests
  // running meanwhile) is replaced whole, never seen half-written.
  const tmp = `${out}.tmp-${process.pid}`;
  const args = [...cflags, ...r.cflags, '-I', join(root, 'common'), '-I', dir, '-o', tmp, ...srcs, ...common, ...r.ldflags];
  try {
    execFileSync(r.cc, args, { stdio: 'inherit' });
    renameSync(tmp, out);
    writeFileSync(stamp, said);
    console.log(`built ${out}`);
  } catch {
    rmSync(tmp, { force: true });
    console.error(`native build failed: ${part}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
