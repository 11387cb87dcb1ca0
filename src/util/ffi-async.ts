// koffi's asynchronous calls (a C function run on a worker thread, its result given to a callback) are
// queued by koffi up to `max_async_calls` (256), running or waiting, and refused beyond with "Too many
// asynchronous calls are running". tsstack makes one per overlay mount, monitor spawn, unmount and
// veth request: `up --parallel 1000` of 300 services failed 88 of its creates so. Every such call goes
// through here instead: beyond MAX_IN_FLIGHT the next one waits in this queue for one to end. The
// bound is far above what the threads can run at once, so it costs nothing before it is reached.

/** Calls in flight at most (koffi refuses the 257th); half of it leaves room for any other user of koffi. */
export const MAX_IN_FLIGHT = 128;

let inFlight = 0;
const waiting: (() => void)[] = [];

/** How many calls are in flight now (for tests). */
export function ffiInFlight(): number {
  return inFlight;
}

/**
 * Makes the asynchronous call `call` (which hands `done` to koffi's `.async`) once fewer than
 * MAX_IN_FLIGHT are in flight; its result or error, as a promise. A call that throws at once (koffi
 * refusing its arguments) rejects the promise.
 */
export function ffiAsync<T>(call: (done: (err: unknown, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const go = (): void => {
      inFlight++;
      let settled = false;
      const done = (err: unknown, value: T): void => {
        if (settled) return;
        settled = true;
        inFlight--;
        waiting.shift()?.();
        if (err) reject(err);
        else resolve(value);
      };
      try {
        call(done);
      } catch (e) {
        done(e ?? new Error('koffi refused the call'), undefined as T);
      }
    };
    if (inFlight < MAX_IN_FLIGHT) go();
    else waiting.push(go);
  });
}
