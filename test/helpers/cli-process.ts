// `tsstack ARGS…` as a process of its own (bin/tsstack.js), for tests where
// several commands must really run at once (locks are per process) or where a
// command that hangs must be killed rather than hang the test worker.
import { spawn } from 'node:child_process';

export const TSSTACK_BIN = new URL('../../../bin/tsstack.js', import.meta.url).pathname;

export interface ProcRun {
  code: number;
  out: string;
  err: string;
  ms: number;
  pid: number;
  /** Killed at the timeout (it hung). */
  timedOut: boolean;
}

/** Runs the CLI with `env` (added to this process's) in `cwd`; SIGKILL after `timeoutMs`. */
export function tsstackProc(env: Record<string, string | undefined>, args: string[], opts: { cwd?: string; timeoutMs?: number; onSpawn?: (pid: number) => void; onStderr?: (text: string) => void; nodeArgs?: string[] } = {}): Promise<ProcRun> {
  const started = Date.now();
  const full: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...env };
  for (const k of Object.keys(full)) if (full[k] === undefined) delete full[k];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), TSSTACK_BIN, ...args], { cwd: opts.cwd, env: full, stdio: ['ignore', 'pipe', 'pipe'] });
    opts.onSpawn?.(child.pid ?? 0);
    let out = '';
    let err = '';
    let timedOut = false;
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; opts.onStderr?.(String(d)); });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 120_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 + 9 : 1), out, err, ms: Date.now() - started, pid: child.pid ?? 0, timedOut });
    });
  });
}
