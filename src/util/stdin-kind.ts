// What the standard input is, for `run` and `exec`, which pass it on to the container as Compose does
// (its -i is on by default): a terminal (then a pty), something that can carry input (a pipe, a file,
// a socket), or nothing to pass: closed, or /dev/null, where the container's stdin is /dev/null anyway.
// Asked with fstat, not process.stdin: reading that makes Node build the stream (2–5 ms of a command).
import { fstatSync } from 'node:fs';
import { isTerminal } from './terminal.js';

export type StdinKind = 'terminal' | 'input' | 'none';

/** /dev/null's device number as stat gives it: makedev(1, 3). */
const DEV_NULL_RDEV = (1 << 8) | 3;

/** What the descriptor `fd` (the standard input by default) is; a closed one is 'none'. */
export function stdinKind(fd = 0): StdinKind {
  let st;
  try {
    st = fstatSync(fd);
  } catch {
    return 'none'; // EBADF: closed
  }
  if (st.isCharacterDevice()) {
    if (st.rdev === DEV_NULL_RDEV) return 'none';
    if (fd === 0 && isTerminal(0)) return 'terminal';
  }
  return 'input';
}
