// The native syscall numbers tsstack-runtime's seccomp compiler uses come from the C library's
// <sys/syscall.h>, with a table of its own for the calls a library's headers may lack. Built with
// glibc and with musl (the runtime's own libc when musl-gcc is installed: scripts/build-native.mjs),
// every name must get the same number: musl 1.2.3 lacks five calls of Linux 5.14–5.17, and a filter
// built without them answered ENOSYS where runc's allows (test/security/seccomp-equivalence).
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';

const root = process.cwd();
const dir = makeTemp('tsstack-syscalls-');
test.after.always(() => rmTemp(dir));

function has(cc: string): boolean {
  try {
    execFileSync(cc, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function table(cc: string, extra: string[]): Map<string, string> {
  const bin = join(dir, `names-${cc.replace(/\W/g, '_')}`);
  const rt = resolve(root, 'native/runtime');
  execFileSync(cc, ['-std=gnu11', '-D_GNU_SOURCE', '-I', rt, '-I', resolve(root, 'native/common'), ...extra, '-o', bin,
    resolve(root, 'test/runtime/syscall_names.c'), join(rt, 'syscalls.c'), join(rt, 'syscalls_x86.c')]);
  return new Map(execFileSync(bin, { encoding: 'utf8' }).trim().split('\n').map((l) => l.split(' ') as [string, string]));
}

const headers = resolve(root, 'native/obj/kernel-headers'); // made by scripts/build-native.mjs for musl-gcc
const run = process.arch === 'x64' && has('musl-gcc') && existsSync(join(headers, 'linux')) ? test : test.skip;
run('syscall numbers: the same for every name whichever C library the runtime is built with', (t) => {
  const glibc = table(process.env.CC ?? 'cc', []);
  const musl = table('musl-gcc', ['-isystem', headers]);
  t.true(glibc.size > 400, `${glibc.size} names`);
  const differ = [...glibc].filter(([name, nr]) => musl.get(name) !== nr).map(([name, nr]) => `${name}: glibc ${nr}, musl ${musl.get(name)}`);
  t.deepEqual(differ, []);
});
