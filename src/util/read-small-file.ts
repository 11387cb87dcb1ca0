// Reads a small regular file named by a user (a stack file's seccomp profile,
// say) without hanging on a FIFO or a device (`/dev/zero`) and without
// reading an unbounded amount: the file is opened non-blocking, checked with
// fstat, then read.

import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';

/** What "small" means unless the caller says: 1 MiB. */
export const SMALL_FILE_MAX = 1 << 20;

/** The file's content; throws an Error with code ENOTREG (not a regular file) or EFBIG (over `max` bytes), or the open error. */
export function readSmallFile(path: string, max = SMALL_FILE_MAX): Buffer {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: 'ENOTREG' });
    if (st.size > max) throw Object.assign(new Error(`${path} is larger than ${max} bytes`), { code: 'EFBIG' });
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}
