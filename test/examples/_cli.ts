// End-to-end helpers: run the real `tsstack` command line (bin/tsstack.js) and
// the repository's scripts as child processes, as a user would, against a
// temporary engine root; check what a stack leaves on the host.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import koffi from 'koffi';

/** The repository root (tests are compiled to dist/test/<area>/). */
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = join(REPO, 'bin/tsstack.js');

export interface Run { code: number; out: string; err: string }

/** Why end-to-end tests cannot run here, or undefined when they can. */
export function cannotRun(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!existsSync('/bin/busybox')) return 'needs busybox-static (/bin/busybox)';
  for (const part of ['runtime', 'monitor', 'dns']) {
    if (!existsSync(join(REPO, `native/bin/tsstack-${part}`))) return `native/bin/tsstack-${part} is not built (node scripts/build-native.mjs)`;
  }
  if (!existsSync(join(REPO, 'dist/src/cli/main.js'))) return 'dist/ is not built (npx tsc -p .)';
  return undefined;
}

const CLONE_NEWNET = 0x40000000;
let isolated = false;

/**
 * Moves this test process (one ava worker per file) into a network namespace of
 * its own, so the ports the examples publish and the bridges they make cannot
 * meet another test file's, and "nothing left" can be checked for the whole
 * namespace. Children (tsstack, curl, redis-cli) inherit it.
 */
export function isolateNetwork(): void {
  if (isolated) return;
  const unshare = koffi.load('libc.so.6').func('int unshare(int flags)') as (f: number) => number;
  if (unshare(CLONE_NEWNET) !== 0) throw new Error('unshare(CLONE_NEWNET) failed');
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
  isolated = true;
}

/** A temporary engine root plus the environment a user's shell would have for it. */
export class Sandbox {
  readonly base = mkdtempSync(join(tmpdir(), 'tsstack-ex-'));
  readonly root = join(this.base, 'root');
  readonly runRoot = join(this.base, 'root/run');
  readonly env: NodeJS.ProcessEnv;

  constructor(extra: Record<string, string> = {}) {
    this.env = { ...process.env, TSSTACK_ROOT: this.root, TSSTACK_RUN_ROOT: this.runRoot, NO_COLOR: '1', ...extra };
    delete this.env.TSSTACK_PROJECT_NAME;
  }

  /** Runs a program (default cwd: the repository, like the README's commands). */
  exec(file: string, args: string[], opts: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<Run> {
    return new Promise((resolve) => {
      execFile(file, args, { cwd: opts.cwd ?? REPO, env: { ...this.env, ...opts.env }, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 << 20 },
        (err, stdout, stderr) => {
          const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
          resolve({ code, out: stdout.toString(), err: stderr.toString() });
        });
    });
  }

  /** `tsstack ARGS…` */
  tsstack(...args: string[]): Promise<Run> {
    return this.exec('node', [BIN, ...args]);
  }

  /** `tsstack ARGS…` as a long-running child (watch mode). */
  spawnTsstack(args: string[], cwd = REPO): ChildProcess {
    return spawn('node', [BIN, ...args], { cwd, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
  }

  dispose(): void {
    rmSync(this.base, { recursive: true, force: true });
  }
}

/** An HTTP GET on the namespace's loopback; the body, or '' on any failure. */
export async function get(url: string, timeoutMs = 3000): Promise<string> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return await r.text();
  } catch {
    return '';
  }
}

/** Polls `f` until it returns a truthy value or `ms` pass; returns the last value. */
export async function until<T>(f: () => Promise<T>, ms: number, everyMs = 50): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v || Date.now() >= end) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** cgroup directories named after any of `ids`, in every mounted hierarchy. */
function cgroupsOf(ids: Set<string>): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number): void => {
    let entries: string[];
    try { entries = readdirSync(dir); } catch { return; }
    for (const e of entries) {
      const p = join(dir, e);
      let isDir = false;
      try { isDir = statSync(p).isDirectory(); } catch { continue; }
      if (!isDir) continue;
      if (ids.has(e)) found.push(p);
      else if (depth < 6) walk(p, depth + 1);
    }
  };
  if (ids.size > 0) walk('/sys/fs/cgroup', 0);
  return found;
}

/**
 * What a stack may leave behind after `down`, in this (private) network
 * namespace and on the host: mounts under the root, links besides lo, nftables
 * tables, processes naming the root (monitors, the DNS server), cgroups of the
 * given container ids.
 */
export function leftovers(root: string, containerIds: string[] = []): string[] {
  const out: string[] = [];
  for (const l of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) if (l.includes(root)) out.push(`mount: ${l.split(' ')[4]}`);
  const links = execFileSync('ip', ['-o', 'link', 'show']).toString().split('\n').filter((l) => l.trim() && !/^\d+: lo:/.test(l));
  out.push(...links.map((l) => `link: ${l.split(':')[1]?.trim()}`));
  // Absolute: under npx, node_modules/.bin has an unrelated `nft` (@vercel/nft) first in PATH.
  const tables = execFileSync('/usr/sbin/nft', ['list', 'tables']).toString().trim();
  if (tables) out.push(...tables.split('\n').map((t) => `nft: ${t}`));
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(root)) out.push(`process ${pid}: ${cmd.slice(0, 160)}`);
    } catch { /* gone */ }
  }
  out.push(...cgroupsOf(new Set(containerIds)).map((p) => `cgroup: ${p}`));
  return out;
}

/** Waits (up to `ms`) for `leftovers` to come out empty: monitors and the DNS server exit a moment after `down`. */
export async function settledLeftovers(root: string, ids: string[], ms = 5000): Promise<string[]> {
  let left = leftovers(root, ids);
  const end = Date.now() + ms;
  while (left.length > 0 && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    left = leftovers(root, ids);
  }
  return left;
}

/**
 * The image cache the example-image script keeps its root filesystem tars in:
 * TSSTACK_IMAGE_CACHE when set (reused across runs), else a temp dir for this run.
 */
export function imageCache(): { dir: string; dispose(): void } {
  const given = process.env.TSSTACK_IMAGE_CACHE;
  if (given) return { dir: given, dispose() {} };
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-ex-cache-'));
  return { dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Whether the Redis root filesystem tar is in `cache`: scripts/test.sh makes it
 * with mmdebstrap before the suite enters its own network namespace (the Debian
 * mirror is not reachable from inside). Returns why the examples cannot run, or undefined.
 */
export async function ensureRedisRootfs(cache: string): Promise<string | undefined> {
  if (existsSync(join(cache, 'redis.tar'))) return undefined;
  return `no ${join(cache, 'redis.tar')}: run scripts/test.sh (it makes it with mmdebstrap before the tests), or scripts/make-example-images.sh --rootfs-only with TSSTACK_IMAGE_CACHE set`;
}

export interface PsRow {
  ID: string; Name: string; Service: string; State: string; Health: string;
  Publishers: { URL: string; PublishedPort: number; TargetPort: number; Protocol: string }[];
  Addresses: Record<string, string>;
}

export function parsePs(r: Run): PsRow[] {
  if (r.code !== 0) throw new Error(`tsstack ps failed (${r.code}): ${r.err}`);
  return (JSON.parse(r.out) as PsRow[]).sort((a, b) => (a.Service < b.Service ? -1 : 1));
}
