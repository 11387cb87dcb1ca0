// `tsstack ui` lives long and idles: V8 in lite mode (no optimizing compiler, lazier feedback) with a
// 1 MiB young generation, a garbage collector on the main thread and one V8 worker thread keep it inside issue 20's budget (≤ 50 MiB RSS; bench/ui.sh measures it).
// V8 takes such flags only at start, and a second Node beside this one would cost its own ~40 MiB, so
// the process replaces itself once (execve(2) through koffi: same pid, same stdio, same arguments)
// with the same command under those flags. Any failure leaves it running as it is.
//
// Only the CLI's own process does this (argv[1] is bin/tsstack.js): never a test runner or a program
// that embeds main(). Lite mode turns WebAssembly off, so nothing this process loads may need it
// (undici's fetch does; the server is plain node:http and never fetches).

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { koffi as loadKoffi } from '../util/koffi.js';
import { deferredForOwnRun } from '../util/extra-ca.js';

export const LEAN_FLAGS = ['--lite-mode', '--no-expose-wasm', '--max-semi-space-size=1', '--single-threaded-gc', '--v8-pool-size=1'];
/** Set across the execve only: the process that has it is the lean one, and removes it at once. */
const MARK = 'TSSTACK_UI_LEAN_EXEC';
const BIN = fileURLToPath(new URL('../../../bin/tsstack.js', import.meta.url));
const F_SETFD = 2;

function same(a: string | undefined, b: string): boolean {
  try {
    return !!a && realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/** Returns when the process stays as it is (already lean, not the CLI's own process, or exec refused). */
export function execLean(env: NodeJS.ProcessEnv = process.env): void {
  if (env[MARK] !== undefined) {
    delete env[MARK]; // the stack, its children and the model cache's key never see it
    return;
  }
  if (LEAN_FLAGS.every((f) => process.execArgv.includes(f)) || !same(process.argv[1], BIN)) return;
  try {
    const koffi = loadKoffi();
    const libc = koffi.load('libc.so.6');
    const fcntl = libc.func('int fcntl(int fd, int cmd, ...)');
    const execve = libc.func('int execve(const char *path, const char **argv, const char **envp)');
    // Node marks its stdio close-on-exec at start: the new image must keep them
    for (const fd of [0, 1, 2]) fcntl(fd, F_SETFD, 'int', 0);
    const argv = [process.argv0, ...process.execArgv, ...LEAN_FLAGS, ...process.argv.slice(1), null];
    const envp = [...Object.entries({ ...deferredForOwnRun(env), [MARK]: '1' }).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`), null];
    execve(process.execPath, argv, envp); // returns only on failure
    for (const fd of [0, 1, 2]) fcntl(fd, F_SETFD, 'int', 1); // as Node had them
  } catch {
    /* koffi unavailable: serve as is */
  }
}
