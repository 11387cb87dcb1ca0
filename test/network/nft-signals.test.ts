// nft.ts: a batch is not failed by a signal that arrives while libnftables waits for the kernel's
// acknowledgements (its select() is never resumed after a handler). Here an interval timer of this
// process raises SIGALRM, which it handles, every 20 us while batches run; without the signals held
// back, about one batch in ten failed with "Interrupted system call". (A timer, not another process
// sending signals: a storm from outside fills libuv's signal pipe, which then drops the SIGCHLD of
// that very process, whose end is never seen.)
import test from 'ava';
import koffi from 'koffi';
import { Nft } from '../../src/engine/network/nft.js';
import { needs } from '../helpers/skip.js';
import { freshHost } from './helpers.js';

needs('root').serial('nftables batches run through a storm of handled signals without one failing', async (t) => {
  await freshHost();
  const setitimer = koffi.load('libc.so.6').func('int setitimer(int which, const void *value, void *old)') as (w: number, v: Buffer, o: null) => number;
  const timer = (us: number) => { const b = Buffer.alloc(32); b.writeBigInt64LE(BigInt(us), 8); b.writeBigInt64LE(BigInt(us), 24); return b; }; // interval, first
  const handler = () => {};
  process.on('SIGALRM', handler);
  const nft = new Nft();
  const failures: string[] = [];
  try {
    t.is(setitimer(0, timer(20), null), 0); // ITIMER_REAL: SIGALRM
    for (let i = 0; i < 200; i++) {
      try {
        nft.run([
          { add: { table: { family: 'inet', name: 'tsq-signals' } } },
          { add: { chain: { family: 'inet', table: 'tsq-signals', name: 'c', type: 'filter', hook: 'input', prio: 0, policy: 'accept' } } },
          { add: { rule: { family: 'inet', table: 'tsq-signals', chain: 'c', expr: [{ accept: null }] } } },
          { delete: { table: { family: 'inet', name: 'tsq-signals' } } },
        ]);
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
  } finally {
    setitimer(0, timer(0), null);
    await new Promise((r) => setTimeout(r, 50)); // the signals already raised reach the handler, not the default action
    process.off('SIGALRM', handler);
    nft.close();
  }
  t.deepEqual(failures, []);
  t.deepEqual(nft.run([{ list: { tables: { family: 'inet' } } }]).filter((o) => o.table), [], 'every batch deleted its table again');
});
