// Lines to standard output and error written to their descriptors, as Node's own streams would write
// them on Linux (synchronously, for a file, a pipe or a terminal alike), without making those streams:
// the first read of process.stdout or process.stderr loads node:stream, and node:net for a pipe (2–3 ms
// of every command that prints a line). Should a descriptor not take a write at once (one left
// non-blocking by whoever shares it), that write and all later ones go through Node's stream, which waits.
import { writeSync } from 'node:fs';

export function stdWriter(fd: 1 | 2): (text: string) => void {
  let viaStream = false;
  const stream = () => (fd === 1 ? process.stdout : process.stderr);
  return (text) => {
    if (viaStream) { stream().write(text); return; }
    const buf = Buffer.from(text);
    let off = 0;
    try {
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // a reader that stopped early (`tsstack ps | head`) is not an error, as in bin/tsstack.js
      if (code === 'EPIPE') {
        if (fd === 1) process.exit(process.exitCode ?? 0);
        return;
      }
      if (code !== 'EAGAIN') throw e;
      viaStream = true;
      stream().write(buf.subarray(off));
    }
  };
}

/**
 * Bytes to standard output or error for a command that decides itself what a reader gone away means (`run`
 * copying a container's output): EPIPE rejects, and a descriptor that takes no more for now (left
 * non-blocking by whoever shares it; a full socket) is written again a little later, never through Node's
 * stream, whose EPIPE would end the process.
 */
export function rawWriter(fd: 1 | 2): (bytes: Buffer) => Promise<void> {
  return async (bytes) => {
    let off = 0;
    while (off < bytes.length) {
      try {
        off += writeSync(fd, bytes, off, bytes.length - off);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        await new Promise((r) => setTimeout(r, 2));
      }
    }
  };
}
