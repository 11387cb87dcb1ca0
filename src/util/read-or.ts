// A small file's text, or undefined when it is absent or unreadable, without an exception for the absent
// one: many of tsstack's reads are of files that are often not there (a state file not yet written, a pid
// file before its server runs, a `.env`), and a failed readFileSync costs an Error with its stack (~25 µs
// warm). Looked for first: a look that finds nothing is a syscall.
import { existsSync, readFileSync } from 'node:fs';

export function readOr(path: string): string | undefined {
  try {
    return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  } catch {
    return undefined;
  }
}
