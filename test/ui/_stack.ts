// Shared by the dashboard's browser test and bench/ui.sh: the CLI as a child process on a world's
// root, and the cgroup of a container (to kill every process in it, as an OOM kill or a crash would).
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BIN } from '../examples/_cli.js';

/** The cgroup directory of a container (named by its id), in any hierarchy (v1 or v2). */
export function cgroupOf(id: string): string | undefined {
  const walk = (dir: string, depth: number): string | undefined => {
    let entries: string[];
    try { entries = readdirSync(dir); } catch { return undefined; }
    for (const e of entries) {
      const p = join(dir, e);
      try { if (!statSync(p).isDirectory()) continue; } catch { continue; }
      if (e === id) return p;
      const found = depth < 8 ? walk(p, depth + 1) : undefined;
      if (found) return found;
    }
    return undefined;
  };
  return walk('/sys/fs/cgroup', 0);
}

/** SIGKILL to every process of the container's cgroup; false when it has none. */
export function killContainer(id: string): boolean {
  const cg = cgroupOf(id);
  if (!cg) return false;
  const pids = readFileSync(join(cg, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  for (const pid of pids) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone already */ }
  }
  return pids.length > 0;
}

/** The environment of a CLI on `root` (project from the stack file, no colours). */
export function cliEnv(root: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TSSTACK_ROOT: root, TSSTACK_RUN_ROOT: join(root, 'run'), NO_COLOR: '1' };
  delete env.TSSTACK_PROJECT_NAME;
  return env;
}

/** `tsstack -f FILE ARGS…` as a child; resolves with its exit code and output. */
export function cli(root: string, cwd: string, file: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [BIN, '-f', file, ...args], { cwd, env: cliEnv(root), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    c.stdout.on('data', (d) => { out += d; });
    c.stderr.on('data', (d) => { err += d; });
    c.on('close', (code) => resolve({ code: code ?? 1, out, err }));
  });
}
