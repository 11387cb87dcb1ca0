// TSSTACK_TRACE_PHASES=1: a line on stderr at each phase of a command, with the milliseconds since
// the process started (performance.now(): Node's own start-up is in the first figure). Where a
// command's time goes, without a profiler's overhead or a patched build: bench/phases.sh runs it.
// Off, a call is one test of a constant; a label made per container is passed as a function, so
// that it is not made at all then.

const on = !!process.env.TSSTACK_TRACE_PHASES;

export function phase(label: string | (() => string)): void {
  if (on) process.stderr.write(`phase ${performance.now().toFixed(1)} ${typeof label === 'string' ? label : label()}\n`);
}
