// Whether a standard stream is a terminal, asked of the C library. Reading `process.stdin.isTTY` or
// `process.stdout.isTTY` makes Node create that stream first: node:stream and, for a pipe or a terminal,
// node:net, or for a file fs's streams with node:fs/promises and readline (2–5 ms of a command, also of
// one that prints nothing, such as a `run --rm` of a quiet container). The streams are still made when
// something is written.
import { koffi } from './koffi.js';

let isatty: ((fd: number) => number) | null | undefined;

export function isTerminal(fd: 0 | 1 | 2): boolean {
  if (isatty === undefined) {
    try {
      isatty = koffi().load('libc.so.6').func('int isatty(int fd)') as (fd: number) => number;
    } catch {
      isatty = null; // no koffi or no glibc here: Node's own answer
    }
  }
  if (isatty) return isatty(fd) === 1;
  return !!(fd === 0 ? process.stdin : fd === 1 ? process.stdout : process.stderr).isTTY;
}
