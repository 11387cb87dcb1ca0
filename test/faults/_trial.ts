// What the crash-safety tests share: a small stack, the CLI run as a child process that can be
// killed (SIGKILL at a named step through TSSTACK_FAULT_AT, or after a delay), and `residue()`:
// everything a project may leave on the host and in the engine root once `down -v` has run.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { leftovers, world, type World } from '../cli/_world.js';

export const PROJECT = 'crash';
const BIN = fileURLToPath(new URL('../../../bin/tsstack.js', import.meta.url));

/**
 * Three busybox services on two networks, one port published (nft DNAT and the socket programs), a volume:
 * every kind of step a create and a remove make. SIGKILL stops them at once.
 */
export function stack(edit = ''): string {
  const svc = (extra: string) => `    image: busybox:latest
    command: ["sleep", "3600"]
    stop_signal: SIGKILL
${extra}`;
  return `services:
  a:
${svc(`    ports: ["18080:80"]\n    environment: { EDIT: "${edit}" }\n`)}  b:
${svc('    networks: [default, back]\n')}  c:
${svc('    networks: [back]\n    depends_on: [b]\n    volumes: ["data:/data"]\n')}networks:
  back: {}
volumes:
  data: {}
`;
}

export function writeStack(w: World, edit = ''): string {
  const file = join(w.dir, 'stack.yaml');
  writeFileSync(file, stack(edit));
  return file;
}

let template: World | undefined;

/**
 * A world whose root holds the busybox image: imported once per test file into a template root, then
 * copied (`cp -a`, ~0.3 s against ~1.4 s for an import). `disposeTemplate()` in `test.after.always`.
 */
export async function imageWorld(): Promise<World> {
  if (!template) {
    template = world();
    await template.busybox();
  }
  const w = world();
  execFileSync('cp', ['-a', template.root, w.root]);
  return w;
}

export function disposeTemplate(): void {
  template?.dispose();
  template = undefined;
}

export interface Killed {
  /** The signal that ended the CLI (SIGKILL when the fault point was reached). */
  signal: NodeJS.Signals | null;
  code: number | null;
  err: string;
}

/** `tsstack` as a child process with the world's root; killed after `killAfterMs` when given. */
export function cli(w: World, argv: string[], env: Record<string, string> = {}, killAfterMs?: number): Promise<Killed> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, '-f', join(w.dir, 'stack.yaml'), '-p', PROJECT, ...argv], {
      cwd: w.dir,
      env: { ...process.env, TSSTACK_ROOT: w.root, TSSTACK_RUN_ROOT: join(w.root, 'run'), TSSTACK_NO_CACHE: '1', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, err: err.trim() });
    });
  });
}

/** The container ids the root holds now (their cgroups are looked for after the removal). */
export function containerIds(root: string): string[] {
  try { return readdirSync(join(root, 'containers')).filter((n) => /^[0-9a-f]{64}$/.test(n)); } catch { return []; }
}

/**
 * Files that stay by design: the network state's lock and port list, and the DNS server's own state (one
 * server for every project of a root; it stops when idle and keeps its log and records file).
 */
const KEPT = new Set(['networks/.lock', 'networks/.ports.json', 'run/dns/dns.log', 'run/dns/loaded', 'run/dns/locks/dns.lock', 'run/dns/records', 'run/dns/state.json']);

/** The engine root's files and directories outside the image store (relative), the run directory included. */
export function rootFiles(root: string): string[] {
  const keep = new Set(['content', 'images', 'layers', 'locks']);
  const out: string[] = [];
  const walk = (rel: string): void => {
    const abs = join(root, rel);
    let names: string[];
    try { names = readdirSync(abs); } catch { return; }
    for (const n of names.sort()) {
      const r = rel ? `${rel}/${n}` : n;
      if (!rel && keep.has(n)) continue;
      let dir = false;
      try { dir = statSync(join(abs, n)).isDirectory(); } catch { /* gone */ }
      if (dir) {
        const before = out.length;
        walk(r);
        if (out.length === before && ![...KEPT].some((k) => k.startsWith(`${r}/`)) && !['run', 'networks', 'containers', 'volumes', 'projects', 'intents'].includes(r) && !/^run\/[a-z]+$/.test(r)) out.push(`dir: ${r}`);
      } else if (!KEPT.has(r)) out.push(`file: ${r}`);
    }
  };
  walk('');
  return out;
}

/** Lock files: one per project and part; a killed holder's flock is released by the kernel. Temp files there are residue. */
export function lockResidue(root: string): string[] {
  try { return readdirSync(join(root, 'locks')).filter((n) => !n.endsWith('.lock')).map((n) => `file: locks/${n}`); } catch { return []; }
}

/** Cgroup directories of the given containers still present (under the hierarchy root or this process's cgroup). */
function cgroupDirs(ids: string[]): string[] {
  if (!ids.length) return [];
  const mount = '/sys/fs/cgroup';
  const bases = new Set(['/']);
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const m = /^\d+:[^:]*:(.*)$/.exec(line);
    if (m) bases.add(m[1]!);
  }
  const ctrls = existsSync(join(mount, 'cgroup.controllers')) ? [''] : readdirSync(mount);
  const out = new Set<string>();
  for (const c of ctrls) for (const b of bases) for (const id of ids) {
    const d = join(mount, c, b, 'tsstack', id);
    if (existsSync(d)) out.add(d);
  }
  return [...out];
}

export function cgroupsLeft(ids: string[]): string[] {
  return cgroupDirs(ids).map((d) => `cgroup: ${d.slice(0, -52)}`);
}

/** This root's socket programs still attached (eBPF). */
export async function bpfLeft(root: string): Promise<string[]> {
  const { SocketLb, socketLbCgroup } = await import('../../src/engine/network/socket-lb.js');
  const cg = socketLbCgroup();
  if (!cg) return [];
  const lb = new SocketLb(createHash('sha256').update(resolve(root)).digest('hex').slice(0, 8), cg);
  try {
    return lb.status().hooks.map((h) => `bpf: ${h}`);
  } catch {
    return [];
  } finally {
    lb.close();
  }
}

/** Everything left once a project is down: mounts, links, nft tables, processes, cgroups, eBPF, files. */
export async function residue(root: string, ids: string[]): Promise<string[]> {
  return [...leftovers(root), ...cgroupsLeft(ids), ...(await bpfLeft(root)), ...rootFiles(root), ...lockResidue(root)];
}

/**
 * After a failed trial: ends the processes naming the root (the trial's own monitors and containers, by
 * pid), unmounts what is mounted under it, removes the cgroups of its containers, then the temp dir; so
 * one failure does not spill into the next trial or the host. Links and nft tables die with the test's
 * network namespace.
 */
export function scrub(w: World, ids: string[], dispose = true): void {
  const cgs = cgroupDirs(ids);
  for (const d of cgs) {
    let procs: string[] = [];
    try { procs = readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean); } catch { /* gone */ }
    for (const pid of procs) try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
  }
  for (const l of leftovers(w.root)) {
    const p = /^process (\d+):/.exec(l);
    if (p) try { process.kill(Number(p[1]), 'SIGKILL'); } catch { /* gone */ }
  }
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(w.root + '/'));
  for (const m of mounts.sort().reverse()) quiet('umount', ['-l', m]);
  // links and the nft table: this worker's own network namespace holds only what the trials made
  for (const l of execFileSync('ip', ['-o', 'link', 'show']).toString().split('\n')) {
    const name = l.split(':')[1]?.trim().replace(/@.*$/, '');
    if (name && name !== 'lo') quiet('ip', ['link', 'delete', name]);
  }
  quiet('nft', ['delete', 'table', 'inet', `tsstack_${createHash('sha256').update(resolve(w.root)).digest('hex').slice(0, 8)}`]);
  execFileSync('sleep', ['0.2']);
  for (const d of cgs.sort().reverse()) quiet('rmdir', [d]);
  if (dispose) w.dispose();
}

function quiet(cmd: string, args: string[]): void {
  try { execFileSync(cmd, args, { stdio: 'ignore' }); } catch { /* best effort */ }
}
