// A long-lived command replaces itself once with the same command under V8 flags of its own, which V8
// takes only at start: execve(2) through koffi, so the pid, the stdio and the arguments stay the same.
// `tsstack ui` runs lean (src/ui/lean-exec.ts), `up --watch` without V8's idle-time collections
// (src/cli/watch-host.ts). A second Node beside this one would cost its own ~40 MiB; a re-exec costs
// one Node start, once.
//
// Only the CLI's own process does this (argv[1] is bin/tsstack.js): never a test runner or a program
// that embeds main(). Any failure leaves it running as it is.

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { koffi as loadKoffi } from './koffi.js';
import { deferredForOwnRun } from './extra-ca.js';

const BIN = fileURLToPath(new URL('../../../bin/tsstack.js', import.meta.url));
const F_SETFD = 2;

function same(a: string | undefined, b: string): boolean {
  try {
    return !!a && realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/**
 * Replaces this process with itself under `flags`, unless it already runs under them, is not the CLI's
 * own process, or is the replacement: `mark` is set across the execve only, and the process that has
 * it removes it at once (the stack, its children and the model cache's key never see it). Returns
 * when the process stays as it is.
 */
export function reexecWith(flags: string[], mark: string, env: NodeJS.ProcessEnv = process.env): void {
  if (env[mark] !== undefined) {
    delete env[mark];
    return;
  }
  if (flags.every((f) => process.execArgv.includes(f)) || !same(process.argv[1], BIN)) return;
  try {
    const koffi = loadKoffi();
    const libc = koffi.load('libc.so.6');
    const fcntl = libc.func('int fcntl(int fd, int cmd, ...)');
    const execve = libc.func('int execve(const char *path, const char **argv, const char **envp)');
    // Node marks its stdio close-on-exec at start: the new image must keep them
    for (const fd of [0, 1, 2]) fcntl(fd, F_SETFD, 'int', 0);
    const argv = [process.argv0, ...process.execArgv, ...flags, ...process.argv.slice(1), null];
    const envp = [...Object.entries({ ...deferredForOwnRun(env), [mark]: '1' }).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`), null];
    execve(process.execPath, argv, envp); // returns only on failure
    for (const fd of [0, 1, 2]) fcntl(fd, F_SETFD, 'int', 1); // as Node had them
  } catch {
    /* koffi unavailable: run as is */
  }
}
