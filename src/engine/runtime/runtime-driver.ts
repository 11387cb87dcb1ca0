// The runc command-line contract (`state`, `kill`, `delete`, `exec`, `list`)
// for any runtime binary that speaks it: tsstack-runtime, runc, crun.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { TsstackError } from '../../util/errors.js';

/** What `runtime state <id>` prints (OCI state). */
export interface OciState {
  ociVersion: string;
  id: string;
  status: 'creating' | 'created' | 'running' | 'stopped' | 'paused';
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
}

export interface RunResult { code: number; stdout: string; stderr: string }

export interface DriverExecOptions {
  tty?: boolean;
  env?: string[];
  /** `uid[:gid]` numeric, already resolved. */
  user?: string;
  cwd?: string;
  /** Return once the process has started (the runtime's `exec --detach`); no stdio, no terminal. */
  detach?: boolean;
  /** Keep stdin attached (`-i`); otherwise the process reads /dev/null, as with `docker exec` without -i. A tty implies it. */
  interactive?: boolean;
  /** Default inherits the caller's stdout/stderr. */
  stdio?: 'inherit' | 'pipe';
}

export class RuntimeDriver {
  /** `binary`: absolute path; `root`: the runtime's state directory (its `--root`). */
  constructor(readonly binary: string, readonly root: string) {}

  run(args: string[], input?: string): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.binary, ['--root', this.root, ...args], { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
      let stdout = '', stderr = '';
      child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
      child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
      child.on('error', (e) => reject(new TsstackError('HOST', `cannot run ${this.binary}: ${e.message}`, { cause: e })));
      child.on('close', (code, sig) => resolve({ code: code ?? 128 + (sig ? constants.signals[sig] : 0), stdout, stderr }));
      if (child.stdin) {
        child.stdin.on('error', () => { /* the process did not read its input */ });
        child.stdin.end(input);
      }
    });
  }

  private fail(what: string, r: RunResult): TsstackError {
    return new TsstackError('RUNTIME', `${this.binary} ${what} failed: ${lastLine(r.stderr) || `exit ${r.code}`}`);
  }

  async state(id: string): Promise<OciState | undefined> {
    const r = await this.run(['state', id]);
    if (r.code !== 0) return undefined;
    try { return JSON.parse(r.stdout) as OciState; } catch { throw this.fail(`state ${id} (output is not JSON)`, r); }
  }

  async list(): Promise<OciState[]> {
    let r = await this.run(['list', '--format', 'json']);
    // runc reads its root and then stats each entry: one deleted in between fails the
    // whole listing. A container going away is not an error for a list: ask again.
    for (let i = 0; i < 5 && r.code !== 0 && /no such file or directory/i.test(r.stderr); i++) r = await this.run(['list', '--format', 'json']);
    if (r.code !== 0) throw this.fail('list', r);
    const v = r.stdout.trim() ? JSON.parse(r.stdout) as OciState[] | null : [];
    return v ?? [];
  }

  async kill(id: string, signal = 'SIGTERM', all = false): Promise<void> {
    const r = await this.run(['kill', ...(all ? ['--all'] : []), id, signal]);
    if (r.code !== 0) throw this.fail(`kill ${id} ${signal}`, r);
  }

  /** Idempotent: a container the runtime does not know is already deleted. */
  async delete(id: string, force = false): Promise<void> {
    const r = await this.run(['delete', ...(force ? ['--force'] : []), id]);
    if (r.code !== 0 && !/does not exist|not found|no such/i.test(r.stderr)) throw this.fail(`delete ${id}`, r);
  }

  /** Runs argv in the container; resolves with its exit code. With tty, the runtime makes the pty and proxies it to the inherited stdio. */
  exec(id: string, argv: string[], opts: DriverExecOptions = {}): Promise<number> {
    const args = ['exec'];
    if (opts.detach) args.push('--detach');
    else if (opts.tty) args.push('--tty');
    for (const e of opts.env ?? []) args.push('--env', e);
    if (opts.user) args.push('--user', opts.user);
    if (opts.cwd) args.push('--cwd', opts.cwd);
    args.push(id, ...argv);
    if (opts.detach) return this.execDetached(id, argv, args);
    return new Promise((resolve, reject) => {
      const stdin = opts.interactive || opts.tty ? 'inherit' : 'ignore';
      const child = spawn(this.binary, ['--root', this.root, ...args], { stdio: opts.stdio === 'pipe' ? [stdin, 'pipe', 'pipe'] : [stdin, 'inherit', 'inherit'] });
      child.on('error', (e) => reject(new TsstackError('HOST', `cannot run ${this.binary}: ${e.message}`, { cause: e })));
      child.on('close', (code, sig) => resolve(code ?? 128 + (sig ? constants.signals[sig] : 0)));
    });
  }

  /**
   * `exec --detach`: the process gets no stdio of ours (it inherits the runtime's, and would hold a
   * caller's pipe open for as long as it runs), so the runtime's errors are read from its --log file.
   */
  private async execDetached(id: string, argv: string[], args: string[]): Promise<number> {
    const dir = mkdtempSync(join(tmpdir(), 'tsstack-exec-'));
    try {
      const log = join(dir, 'log');
      const code = await new Promise<number>((resolve, reject) => {
        const child = spawn(this.binary, ['--root', this.root, '--log', log, ...args], { stdio: 'ignore' });
        child.on('error', (e) => reject(new TsstackError('HOST', `cannot run ${this.binary}: ${e.message}`, { cause: e })));
        child.on('close', (c, sig) => resolve(c ?? 128 + (sig ? constants.signals[sig] : 0)));
      });
      if (code !== 0) {
        let why = '';
        try { why = lastLine(readFileSync(log, 'utf8')); } catch { /* no log */ }
        throw new TsstackError('RUNTIME', `cannot start ${argv.join(' ')} in container ${id.slice(0, 12)}${why ? `: ${why}` : ` (runtime exit ${code})`}`, { hint: 'run it without -d to see its output' });
      }
      return 0;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

function lastLine(s: string): string {
  const lines = s.trim().split('\n').filter(Boolean);
  const l = lines[lines.length - 1] ?? '';
  // runc logs as logfmt: keep the msg
  const m = /msg="((?:[^"\\]|\\.)*)"/.exec(l);
  return m ? m[1]!.replace(/\\"/g, '"') : l;
}
