// Puts this test process (an ava worker) into a network namespace of its own,
// so its bridges, nftables table and published ports cannot meet those of test
// files running at the same time, and "nothing left behind" can be checked for
// the whole namespace. Call before the engine makes any thread or socket.
import koffi from 'koffi';
import { execFileSync } from 'node:child_process';

const CLONE_NEWNET = 0x40000000;
let done = false;

export function isolateNetwork(): boolean {
  if (done) return true;
  if (process.getuid?.() !== 0) return false;
  const unshare = koffi.load('libc.so.6').func('int unshare(int flags)') as (f: number) => number;
  if (unshare(CLONE_NEWNET) !== 0) return false;
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
  done = true;
  return true;
}
