// Lifecycle hooks (compose's post_start/pre_stop): commands run in a running
// container through the runtime's `exec`, their output captured. Containers
// calls these from start() and stop(); the argv building and the failure
// message are pure.

import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { LifecycleHook } from '../api.js';
import { TsstackError } from '../../util/errors.js';

export type HookKind = 'post_start' | 'pre_stop';

export interface HookRun {
  code: number;
  /** stdout and stderr, interleaved as read (kept to the last 4 KiB). */
  output: string;
  timedOut: boolean;
}

/** The runtime's `exec` arguments for a hook; `user` already resolved to `uid:gid`, `caps` the ones a privileged hook gets. */
export function hookExecArgs(id: string, hook: LifecycleHook, user: string | undefined, caps: string[]): string[] {
  const args = ['exec'];
  for (const e of hook.env ?? []) args.push('--env', e);
  if (user) args.push('--user', user);
  if (hook.cwd) args.push('--cwd', hook.cwd);
  if (hook.privileged) for (const c of caps) args.push('--cap', c);
  args.push(id, ...hook.argv);
  return args;
}

const KEEP = 4096;

/**
 * Runs `<binary> --root <root> <args>`; resolves with the exit code and output. Past `timeoutMs` the exec
 * client is killed (the process it started in the container goes with the container's stop).
 */
export function runHookProcess(binary: string, root: string, args: string[], timeoutMs?: number): Promise<HookRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['--root', root, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let timedOut = false;
    const take = (d: Buffer) => { output = (output + d.toString()).slice(-KEEP); };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    // The process in the container may hold the pipes after its exec client died: past the deadline the
    // result is given without waiting for them to close.
    const timer = timeoutMs !== undefined ? setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
      child.stdout!.destroy();
      child.stderr!.destroy();
      resolve({ code: 137, output, timedOut });
    }, Math.max(0, timeoutMs)) : undefined;
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(new TsstackError('HOST', `cannot run ${binary}: ${e.message}`, { cause: e }));
    });
    child.on('close', (code, sig) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? 128 + (sig ? constants.signals[sig] : 0), output, timedOut });
    });
  });
}

/** `service web (container p-web-1)`, or `container NAME` outside a stack. */
export function hookOwner(containerName: string, service: string | undefined): string {
  return service ? `service ${service} (container ${containerName})` : `container ${containerName}`;
}

/** The error for a hook that failed: names the service, the hook (`post_start[1]`) and its command, with its last output line. */
export function hookFailure(owner: string, kind: HookKind, index: number, hook: LifecycleHook, run: HookRun): TsstackError {
  const what = `${kind}[${index}] (${hook.argv.join(' ')})`;
  const last = run.output.trim().split('\n').filter(Boolean).pop();
  const how = run.timedOut ? 'did not finish within the stop grace period' : `failed with exit code ${run.code}`;
  return new TsstackError('RUNTIME', `${owner}: hook ${what} ${how}${last ? `: ${last}` : ''}`, {
    hint: kind === 'post_start'
      ? 'the container was started and keeps running; fix the hook command (it runs in the container, as an exec) and run up again'
      : 'the container was stopped anyway; fix the hook command or raise stop_grace_period',
  });
}
