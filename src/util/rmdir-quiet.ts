// rmdir(2) that says whether it removed the directory, without an exception when it did not. A failing
// fs.rmdirSync costs an Error with its stack (12 µs warm, ~45 in a removal here): the removal of a
// container's cgroups tries ~20 directories of the hierarchies that the runtime has mostly removed
// already, and the shared parents that other containers still use (ENOENT, ENOTEMPTY, EBUSY: each an
// exception), in every removal, on the one JavaScript thread. Through koffi, where it loads; else
// Node's call in a try.
import { rmdirSync } from 'node:fs';
import { koffi } from './koffi.js';

let rmdirC: ((path: string) => number) | null | undefined;

/** Removes the empty directory `path`; false when it is absent, not empty, busy or not removable. */
export function rmdirQuiet(path: string): boolean {
  if (rmdirC === undefined) {
    try {
      rmdirC = koffi().load('libc.so.6').func('int rmdir(const char *path)') as (path: string) => number;
    } catch {
      rmdirC = null;
    }
  }
  if (rmdirC) return rmdirC(path) === 0;
  try {
    rmdirSync(path);
    return true;
  } catch {
    return false;
  }
}
