// tsstack-runtime's BPF compiler against libseccomp's: the filters that tsstack-runtime and runc load
// for the same default profile are read back from the kernel (PTRACE_SECCOMP_GET_FILTER on a running
// container), run in a small classic-BPF interpreter for every syscall number of the x86_64, i386 and
// x32 ABIs with the argument values the profile tests, and must answer alike — except for the calls
// newer than runc's libseccomp, which it cannot name (it answers ENOSYS or EPERM; tsstack-runtime
// applies the profile to them, as Docker's does with a newer libseccomp).
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerCreateSpec } from '../../src/engine/api.js';
import { runtimes } from '../engine-runtime/helpers.js';
import { containerKit, plainSpec } from '../engine-runtime/kit.js';
import { skipWhen } from '../helpers/skip.js';

const { engine, base } = containerKit('tsstack-seccomp-eq-');

const DUMP_C = String.raw`
#define _GNU_SOURCE
#include <linux/filter.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif
/* dump PID: the task's seccomp filters, newest first, one instruction a line; "--" between filters */
int main(int argc, char **argv) {
  pid_t pid = atoi(argv[1]);
  if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0 || ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0) return perror("attach"), 1;
  int st;
  if (waitpid(pid, &st, __WALL) < 0) return perror("waitpid"), 1;
  for (long idx = 0;; idx++) {
    long n = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *)idx, NULL);
    if (n < 0) break;
    struct sock_filter *f = calloc(n, sizeof *f);
    ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *)idx, f);
    if (idx) puts("--");
    for (long i = 0; i < n; i++) printf("%u %u %u %u\n", f[i].code, f[i].jt, f[i].jf, f[i].k);
    free(f);
  }
  ptrace(PTRACE_DETACH, pid, 0, 0);
  return 0;
}
`;

type Insn = [code: number, jt: number, jf: number, k: number];

/** Classic BPF over struct seccomp_data (nr, arch, ip, args[6]), the subset seccomp filters use. */
function runBpf(prog: Insn[], nr: number, arch: number, args: bigint[]): number {
  const word = (off: number): number => {
    if (off === 0) return nr >>> 0;
    if (off === 4) return arch >>> 0;
    if (off === 8 || off === 12) return 0; // instruction pointer
    const i = (off - 16) >> 3, hi = (off - 16) & 4;
    const v = args[i] ?? 0n;
    return Number(hi ? (v >> 32n) & 0xffffffffn : v & 0xffffffffn);
  };
  let a = 0, x = 0;
  const mem = new Array<number>(16).fill(0);
  for (let pc = 0; pc < prog.length; pc++) {
    const [code, jt, jf, k] = prog[pc]!;
    const cls = code & 0x07, src = code & 0x08 ? x : k;
    if (cls === 0x00) { // LD
      const mode = code & 0xe0;
      a = mode === 0x20 ? word(k) : mode === 0x00 ? k : mode === 0x60 ? mem[k]! : mode === 0x80 ? 64 : NaN;
    } else if (cls === 0x01) x = (code & 0xe0) === 0x00 ? k : (code & 0xe0) === 0x60 ? mem[k]! : (code & 0xe0) === 0x80 ? 64 : NaN; // LDX
    else if (cls === 0x02) mem[k] = a; // ST
    else if (cls === 0x03) mem[k] = x; // STX
    else if (cls === 0x04) { // ALU
      const op = code & 0xf0;
      a = op === 0x00 ? a + src : op === 0x10 ? a - src : op === 0x20 ? Math.imul(a, src) : op === 0x40 ? a | src : op === 0x50 ? a & src
        : op === 0x60 ? a << src : op === 0x70 ? a >>> src : op === 0x80 ? -a : op === 0xa0 ? a ^ src : NaN;
      a >>>= 0;
    } else if (cls === 0x05) { // JMP
      const op = code & 0xf0;
      if (op === 0x00) { pc += k; continue; }
      const s = src >>> 0;
      const hit = op === 0x10 ? a === s : op === 0x20 ? a > s : op === 0x30 ? a >= s : op === 0x40 ? (a & s) !== 0 : undefined;
      if (hit === undefined) throw new Error(`jump op ${op} at ${pc}`);
      pc += hit ? jt : jf;
    } else if (cls === 0x06) return ((code & 0x18) === 0x10 ? a : k) >>> 0; // RET
    else if (cls === 0x07) { if (code & 0x80) a = x; else x = a; } // MISC: TXA / TAX
    if (Number.isNaN(a) || Number.isNaN(x)) throw new Error(`instruction ${code} at ${pc}`);
  }
  throw new Error('fell off the end of the program');
}

const AUDIT_ARCH_X86_64 = 0xc000003e, AUDIT_ARCH_I386 = 0x40000003, X32 = 0x40000000;
/** The arg0 values the default profile tests (clone flags, socket families, personalities), and a few around them. */
const ARG0 = [0n, 1n, 8n, 17n, 0x20000n | 17n, 0x10000000n, 37n, 38n, 39n, 40n, 41n, 0x20000n, 0x20008n, 0x400000n, 0xffffffffn, 0x1ffffffffn];

function dumpFilters(dump: string, pid: number): Insn[][] {
  const out = execFileSync(dump, [String(pid)], { encoding: 'utf8' });
  return out.trim().split('\n--\n').map((f) => f.split('\n').map((l) => l.split(' ').map(Number) as Insn));
}

/** Every verdict of a filter: "ABI nr arg0" → action word. */
function verdicts(prog: Insn[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const [abi, arch, bit] of [['x86_64', AUDIT_ARCH_X86_64, 0], ['i386', AUDIT_ARCH_I386, 0], ['x32', AUDIT_ARCH_X86_64, X32]] as const) {
    for (let nr = 0; nr < 600; nr++) {
      for (const a0 of ARG0) out.set(`${abi} ${nr} ${a0}`, runBpf(prog, (nr | bit) >>> 0, arch, [a0, 0n, 0n, 0n, 0n, 0n]));
    }
  }
  return out;
}

const hasTools = process.arch === 'x64' && runtimes().includes('tsstack-runtime') && runtimes().includes('runc');
const t0 = skipWhen(!hasTools, 'needs x86_64, runc and the built runtime').serial;

for (const [label, extra] of [['default capabilities', {}], ['cap_add SYS_ADMIN, SYS_PTRACE', { capAdd: ['SYS_ADMIN', 'SYS_PTRACE'] }]] as [string, Partial<ContainerCreateSpec>][]) {
  t0(`the default profile compiles to the same verdicts under tsstack-runtime and runc (libseccomp), ${label}`, async (t) => {
    const dir = join(base, 'dump');
    if (!existsSync(join(dir, 'dump'))) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'dump.c'), DUMP_C);
      execFileSync('gcc', ['-O1', '-o', join(dir, 'dump'), join(dir, 'dump.c')]);
    }
    const got: Record<string, Map<string, number>> = {};
    const size: Record<string, number> = {};
    for (const rt of ['tsstack-runtime', 'runc']) {
      const { c } = engine(t, rt);
      const info = await c.create(plainSpec(`eq-${rt}`, ['sleep', '1000'], { ...extra, stopSignal: 'SIGKILL' }));
      await c.start(info.id);
      const pid = (await c.inspect(info.id))!.pid!;
      const filters = dumpFilters(join(dir, 'dump'), pid);
      await c.remove(info.id, { force: true });
      t.is(filters.length, 1, `${rt}: one filter`);
      got[rt] = verdicts(filters[0]!);
      size[rt] = filters[0]!.length;
    }
    // Where they differ, it must be for one of two reasons:
    //  - a call runc's libseccomp cannot name (uretprobe, numbers from 451 on, depending on its version):
    //    runc refuses it whatever the arguments; tsstack-runtime answers what the profile says;
    //  - a 32-bit ABI with a high word in an argument: libseccomp compares the low 32 bits only (the
    //    kernel never passes more there), tsstack-runtime all 64: it refuses, never allows more.
    const ERRNO = 0x00050000, ALLOW = 0x7fff0000;
    const runcRefusesAlways = (abi: string, nr: number) => ARG0.every((a0) => (got.runc!.get(`${abi} ${nr} ${a0}`)! & 0xffff0000) === ERRNO);
    const unexplained: string[] = [];
    let newer = 0, wider = 0;
    for (const [key, v] of got['tsstack-runtime']!) {
      const r = got.runc!.get(key)!;
      if (r === v) continue;
      const [abi, nrS, a0S] = key.split(' ') as [string, string, string];
      const nr = Number(nrS), a0 = BigInt(a0S);
      if ((nr === 335 || nr >= 451) && nr <= 469 && runcRefusesAlways(abi, nr)) newer++;
      else if (abi !== 'x86_64' && a0 > 0xffffffffn && r === ALLOW && (v & 0xffff0000) === ERRNO) wider++;
      else unexplained.push(`${key}: tsstack-runtime ${v.toString(16)}, runc ${r.toString(16)}`);
    }
    t.deepEqual(unexplained, []);
    t.log(`${got.runc!.size} verdicts compared; differing: ${newer} for calls runc's libseccomp does not know, ${wider} for 64-bit values on a 32-bit ABI; instructions: tsstack-runtime ${size['tsstack-runtime']}, runc ${size.runc}`);
    // and the point of the profile, in both
    for (const rt of ['tsstack-runtime', 'runc']) t.is(got[rt]!.get('x86_64 250 0'), ERRNO | 1, `${rt}: keyctl is EPERM`);
  });
}
