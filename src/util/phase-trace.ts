// TSSTACK_TRACE_PHASES=1: a line on stderr at each phase of a command, with the milliseconds since
// the process started (performance.now(): Node's own start-up is in the first figure). Where a
// command's time goes, without a profiler's overhead or a patched build: bench/phases.sh runs it.
// Off, a call is one test of a constant; a label made per container is passed as a function, so
// that it is not made at all then.

// Each line also gives the CPU time this (the main) thread has had so far, from the kernel's
// schedstat: where the wall time outruns it, the thread waited (for the disk, a child, the other core).
import { readFileSync } from 'node:fs';

const on = !!process.env.TSSTACK_TRACE_PHASES;

function threadCpuMs(): string {
  try {
    return (Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6).toFixed(1);
  } catch {
    return '-';
  }
}

export function phase(label: string | (() => string)): void {
  if (on) process.stderr.write(`phase ${performance.now().toFixed(1)} cpu ${threadCpuMs()} ${typeof label === 'string' ? label : label()}\n`);
}
