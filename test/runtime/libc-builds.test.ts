// tsstack-runtime is linked with musl when musl-gcc and the kernel's headers are there, else with the
// system's C library (scripts/build-native.mjs). What it takes from the C library must not differ
// between the two: its allocator (native/runtime/alloc.c, linked in place of either library's malloc)
// and the native syscall numbers its seccomp compiler uses (from <sys/syscall.h>, with a table of its
// own for the calls a library's headers lack: musl 1.2.3 lacks five of Linux 5.14–5.17, and a filter
// built without them answered ENOSYS where runc's allows them: test/security/seccomp-equivalence).
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';

const root = process.cwd();
const dir = makeTemp('tsstack-libc-');
test.after.always(() => rmTemp(dir));
const rt = resolve(root, 'native/runtime');
const headers = resolve(root, 'native/obj/kernel-headers'); // made by scripts/build-native.mjs for musl-gcc

function has(cc: string): boolean {
  try {
    execFileSync(cc, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Builds `sources` with `cc` into a binary of `name` and runs it; its output. */
function buildAndRun(cc: string, name: string, sources: string[], extra: string[] = []): string {
  const bin = join(dir, `${name}-${cc.replace(/\W/g, '_')}`);
  execFileSync(cc, ['-O1', '-std=gnu11', '-D_GNU_SOURCE', '-I', rt, '-I', resolve(root, 'native/common'), ...extra, '-o', bin, ...sources]);
  return execFileSync(bin, { encoding: 'utf8' });
}

for (const cc of [process.env.CC ?? 'cc', 'musl-gcc']) {
  (has(cc) ? test : test.skip)(`alloc: random allocations keep their bytes, alignments and zeroing hold (${cc})`, (t) => {
    const out = buildAndRun(cc, 'alloc', [resolve(root, 'test/runtime/alloc_check.c'), join(rt, 'alloc.c')], ['-static']);
    t.is(out.trim(), 'OK');
  });
}

const bothLibcs = process.arch === 'x64' && has('musl-gcc') && existsSync(join(headers, 'linux'));
(bothLibcs ? test : test.skip)('syscall numbers: the same for every name whichever C library the runtime is built with', (t) => {
  const table = (cc: string, extra: string[]) => new Map(buildAndRun(cc, 'names', [resolve(root, 'test/runtime/syscall_names.c'), join(rt, 'syscalls.c'), join(rt, 'syscalls_x86.c')], extra)
    .trim().split('\n').map((l) => l.split(' ') as [string, string]));
  const glibc = table(process.env.CC ?? 'cc', []);
  const musl = table('musl-gcc', ['-isystem', headers]);
  t.true(glibc.size > 400, `${glibc.size} names`);
  const differ = [...glibc].filter(([name, nr]) => musl.get(name) !== nr).map(([name, nr]) => `${name}: glibc ${nr}, musl ${musl.get(name)}`);
  t.deepEqual(differ, []);
});
