// libc.ts withSignalsHeld: synchronous kernel calls that a signal Node handles would break off. An
// nftables batch (nft.ts), whose acknowledgements libnftables waits for in select(), never resumed after
// a handler: without the signals held back, about one batch in ten failed with "Interrupted system
// call". A BPF program's load (bpf-sys.ts), whose verifier gives up with EAGAIN while a signal is
// pending: 1 999 loads in 2 000 failed. Here an interval timer of this process raises SIGALRM, which it
// handles, every few microseconds while the calls run. (A timer, not another process sending signals: a
// storm from outside fills libuv's signal pipe, which then drops the SIGCHLD of that very process, whose
// end is never seen.)
import test from 'ava';
import koffi from 'koffi';
import { closeFd, F_NO_PREALLOC, MAP_TYPE_HASH, MAP_TYPE_LRU_HASH, mapCreate, PROG_TYPE_CGROUP_SOCK_ADDR, progLoad } from '../../src/engine/network/bpf-sys.js';
import { Nft } from '../../src/engine/network/nft.js';
import { FWD_KEY_SIZE, FWD_VALUE_SIZE, REV_KEY_SIZE, REV_VALUE_SIZE, translateProgram } from '../../src/engine/network/socket-lb-programs.js';
import { needs } from '../helpers/skip.js';
import { freshHost } from './helpers.js';

const setitimer = koffi.load('libc.so.6').func('int setitimer(int which, const void *value, void *old)') as (w: number, v: Buffer, o: null) => number;
/** struct itimerval: every `us` microseconds, the first after `us` */
const every = (us: number) => { const b = Buffer.alloc(32); b.writeBigInt64LE(BigInt(us), 8); b.writeBigInt64LE(BigInt(us), 24); return b; };

/** Runs `f` while SIGALRM (handled) comes every `us` microseconds; the calls' failures. */
async function inStorm(us: number, f: () => void, times: number): Promise<string[]> {
  const handler = () => {};
  process.on('SIGALRM', handler);
  const failures: string[] = [];
  try {
    if (setitimer(0, every(us), null) !== 0) throw new Error('setitimer failed'); // ITIMER_REAL: SIGALRM
    for (let i = 0; i < times; i++) {
      try {
        f();
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
  } finally {
    setitimer(0, every(0), null);
    await new Promise((r) => setTimeout(r, 50)); // the signals already raised reach the handler, not the default action
    process.off('SIGALRM', handler);
  }
  return failures;
}

needs('root').serial('nftables batches run through a storm of handled signals without one failing', async (t) => {
  await freshHost();
  const nft = new Nft();
  const failures = await inStorm(20, () => nft.run([
    { add: { table: { family: 'inet', name: 'tsq-signals' } } },
    { add: { chain: { family: 'inet', table: 'tsq-signals', name: 'c', type: 'filter', hook: 'input', prio: 0, policy: 'accept' } } },
    { add: { rule: { family: 'inet', table: 'tsq-signals', chain: 'c', expr: [{ accept: null }] } } },
    { delete: { table: { family: 'inet', name: 'tsq-signals' } } },
  ]), 200);
  t.deepEqual(failures, []);
  t.deepEqual(nft.run([{ list: { tables: { family: 'inet' } } }]).filter((o) => o.table), [], 'every batch deleted its table again');
  nft.close();
});

needs('root').serial('BPF programs load through a storm of handled signals: the verifier never sees one pending', async (t) => {
  const fwd = mapCreate({ type: MAP_TYPE_HASH, keySize: FWD_KEY_SIZE, valueSize: FWD_VALUE_SIZE, maxEntries: 8, flags: F_NO_PREALLOC, name: 'tsq_sig_f' });
  const rev = mapCreate({ type: MAP_TYPE_LRU_HASH, keySize: REV_KEY_SIZE, valueSize: REV_VALUE_SIZE, maxEntries: 8, flags: 0, name: 'tsq_sig_r' });
  try {
    const insns = translateProgram({ forward: fwd, reverse: rev }, 'connect4');
    const failures = await inStorm(5, () => closeFd(progLoad({ type: PROG_TYPE_CGROUP_SOCK_ADDR, attach: 'connect4', insns, name: 'tsq_sig_p' })), 300);
    t.deepEqual(failures, []);
  } finally {
    closeFd(fwd);
    closeFd(rev);
  }
});
