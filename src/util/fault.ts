// Fault injection for the crash-safety tests (test/faults/): `TSSTACK_FAULT_AT=<step>[:<n>]` makes the
// process SIGKILL itself the n-th time (default: first) it passes the named step, as a power cut or an
// admin's `kill -9` would stop it there. Steps are named where the engine has just made one thing and not
// yet the next (`container.record`, `network.bridge`, …); the list is in test/faults/crash.test.ts.
// Unset (every real run), a step costs one comparison.

const spec = process.env.TSSTACK_FAULT_AT;
const [want, nth] = spec ? [spec.replace(/:\d+$/, ''), Number(/:(\d+)$/.exec(spec)?.[1] ?? 1)] : ['', 0];
let seen = 0;

/** Dies here (SIGKILL, no cleanup of any kind) when TSSTACK_FAULT_AT names this step and its count. */
export function faultPoint(step: string): void {
  if (!spec || step !== want) return;
  if (++seen === nth) process.kill(process.pid, 'SIGKILL');
}
