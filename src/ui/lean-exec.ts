// `tsstack ui` lives long and idles: V8 in lite mode (no optimizing compiler, lazier feedback) with a
// 1 MiB young generation, a garbage collector on the main thread and one V8 worker thread keep it
// inside issue 20's budget (≤ 50 MiB RSS; bench/ui.sh measures it). V8 takes such flags only at start:
// the process replaces itself once with the same command under them (src/util/reexec.ts). Lite mode
// turns WebAssembly off, so nothing this process loads may need it (undici's fetch does; the server is
// plain node:http and never fetches).

import { reexecWith } from '../util/reexec.js';

export const LEAN_FLAGS = ['--lite-mode', '--no-expose-wasm', '--max-semi-space-size=1', '--single-threaded-gc', '--v8-pool-size=1'];

/** Returns when the process stays as it is (already lean, not the CLI's own process, or exec refused). */
export function execLean(env: NodeJS.ProcessEnv = process.env): void {
  reexecWith(LEAN_FLAGS, 'TSSTACK_UI_LEAN_EXEC', env);
}
