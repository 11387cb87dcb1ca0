// ffi-async.ts: koffi refuses a 257th asynchronous call in flight; tsstack's own calls wait in a queue
// of their own beyond MAX_IN_FLIGHT instead. A fake `.async` here holds each call's callback.

import test from 'ava';
import { MAX_IN_FLIGHT, ffiAsync, ffiInFlight } from '../../src/util/ffi-async.js';

test('beyond MAX_IN_FLIGHT the calls wait; each ended one lets the next start, in order; results and errors reach their own callers', async (t) => {
  const started: number[] = [];
  const pending = new Map<number, (err: unknown, v: number) => void>();
  const n = MAX_IN_FLIGHT * 3;
  const results = Array.from({ length: n }, (_, i) => ffiAsync<number>((done) => { started.push(i); pending.set(i, done); }));
  t.is(started.length, MAX_IN_FLIGHT, 'only MAX_IN_FLIGHT made at once');
  t.is(ffiInFlight(), MAX_IN_FLIGHT);
  let most = 0;
  for (let i = 0; i < n; i++) {
    const done = pending.get(i)!;
    pending.delete(i);
    done(i % 7 === 3 ? new Error(`call ${i} failed`) : null, i * 2);
    most = Math.max(most, ffiInFlight());
  }
  t.true(most <= MAX_IN_FLIGHT);
  t.deepEqual(started, Array.from({ length: n }, (_, i) => i), 'every call made, in the order asked');
  const settled = await Promise.allSettled(results);
  for (const [i, s] of settled.entries()) {
    if (i % 7 === 3) t.is(s.status === 'rejected' && (s.reason as Error).message, `call ${i} failed`);
    else t.is(s.status === 'fulfilled' && s.value, i * 2);
  }
  t.is(ffiInFlight(), 0, 'nothing left in flight');
});

test('a call refused at once (koffi throws) rejects and frees its place; a callback called twice counts once', async (t) => {
  await t.throwsAsync(ffiAsync(() => { throw new Error('bad argument'); }), { message: 'bad argument' });
  t.is(ffiInFlight(), 0);
  let cb: ((err: unknown, v: string) => void) | undefined;
  const p = ffiAsync<string>((done) => { cb = done; });
  cb!(null, 'once');
  cb!(null, 'twice');
  t.is(await p, 'once');
  t.is(ffiInFlight(), 0);
});
