// A test that cannot run on this machine is reported by ava as skipped, with the
// reason in its title, never as passed. The reason must be known when the test is
// declared (module level, top-level await included): ava cannot skip a test once
// it has started.
import test from 'ava';

/** `test` as it is when `cond` is falsy; otherwise one whose `test(...)` and `test.serial(...)` register skipped tests titled with `why`. */
export function skipWhen(cond: unknown, why: string | undefined): typeof test {
  if (!cond) return test;
  const reason = why || String(cond);
  const skipped = ((title: string, impl: any) => test.skip(`${title} [skipped: ${reason}]`, impl)) as any;
  skipped.serial = (title: string, impl: any) => test.serial.skip(`${title} [skipped: ${reason}]`, impl);
  return skipped as typeof test;
}
