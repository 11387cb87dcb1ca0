// The create path's small file calls (a container's directories, its etc files, the overlay's upper
// and work directories) done now, on the one JavaScript thread, as promises: the callers await them
// in order as they would the thread pool's, and a failure is a rejection as there. On the 2-core VM
// the project is measured on, a round trip through libuv's pool (waking a pool thread, then the event
// loop) costs ~80–250 µs while the call itself costs 15–50 µs, and calls of several containers made
// side by side on the pool contend for the same directory's lock in the kernel (writeFileAtomic in
// fs-atomic.ts says what was measured). Calls that may take long stay on the pool (fs-async.ts):
// removing a big tree, reading or writing an image's blobs.
import * as fs from 'node:fs';

/** `f()` now, as a settled promise (what it throws, a rejection). */
export function now<T>(f: () => T): Promise<T> {
  try {
    return Promise.resolve(f());
  } catch (e) {
    return Promise.reject(e);
  }
}

export const mkdir = (path: fs.PathLike, opts?: fs.MakeDirectoryOptions & { recursive?: boolean } | fs.Mode): Promise<string | undefined> =>
  now(() => fs.mkdirSync(path, opts));

export const writeFile = (path: fs.PathOrFileDescriptor, data: string | Uint8Array, opts?: fs.WriteFileOptions): Promise<void> =>
  now(() => fs.writeFileSync(path, data, opts));
