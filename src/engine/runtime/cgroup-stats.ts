// Figures of a running container from its cgroup (v1 or v2) and /proc. The
// cgroup is found from /proc/<init pid>/cgroup, so it does not matter where
// the runtime placed it.

import { readFileSync, existsSync } from 'node:fs';

export interface CgroupPaths {
  /** controller name → absolute cgroup directory (v1), and `''` → the v2 directory when it holds the controllers. */
  v1: Record<string, string>;
  v2?: string;
}

/** Pure: the hierarchies of `p` where it is in container `id`'s own cgroup, cut to that cgroup (all of them as they are without an id). */
export function ownOnly(p: { v1: Record<string, string>; v2?: string }, id?: string): { v1: Record<string, string>; v2?: string } {
  if (id === undefined) return p;
  // the container's own directory, also when its init moved on into a child of it (systemd in a container)
  const own = (path: string | undefined): string | undefined => {
    const i = path === undefined ? -1 : `${path}/`.indexOf(`/${id}/`);
    return i < 0 ? undefined : path!.slice(0, i + id.length + 1);
  };
  const v1: Record<string, string> = {};
  for (const [c, path] of Object.entries(p.v1)) if (own(path)) v1[c] = own(path)!;
  return { v1, v2: own(p.v2) };
}

/** Pure: parses /proc/<pid>/cgroup text into hierarchy paths. */
export function parseProcCgroup(text: string): { v1: Record<string, string>; v2?: string } {
  const v1: Record<string, string> = {};
  let v2: string | undefined;
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[2] === '') v2 = m[3];
    else for (const c of m[2]!.split(',')) v1[c.replace(/^name=/, '')] = m[3]!;
  }
  return { v1, v2 };
}

/**
 * The cgroup directories of `pid`; with `id`, only those that are container `id`'s own (the path ends
 * in /<id>). A container without a cgroup of its own in a hierarchy (rootless: none, or only the
 * delegated v2 one) shares that hierarchy's cgroup with the user's processes or the whole host: its
 * figures and processes there are not the container's.
 */
export function cgroupPaths(pid: number, mount = '/sys/fs/cgroup', id?: string): CgroupPaths | undefined {
  let text: string;
  try { text = readFileSync(`/proc/${pid}/cgroup`, 'utf8'); } catch { return undefined; }
  const p = ownOnly(parseProcCgroup(text), id);
  const out: CgroupPaths = { v1: {} };
  for (const [c, path] of Object.entries(p.v1)) out.v1[c] = `${mount}/${c}${path}`;
  if (p.v2 !== undefined) {
    if (existsSync(`${mount}/cgroup.controllers`)) out.v2 = `${mount}${p.v2}`;
    else if (existsSync(`${mount}/unified/cgroup.controllers`)) out.v2 = `${mount}/unified${p.v2}`;
  }
  return out;
}

function read(path: string): string | undefined {
  try { return readFileSync(path, 'utf8'); } catch { return undefined; }
}

function num(path: string): number | undefined {
  const s = read(path)?.trim();
  if (s === undefined || s === 'max') return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

function kv(text: string | undefined, key: string): number | undefined {
  if (!text) return undefined;
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

/** Pids in the container's cgroup (v1 pids/memory/cpu controller, else v2). */
export function cgroupPids(cg: CgroupPaths): number[] {
  const dirs = [cg.v1.pids, cg.v1.memory, cg.v1.cpu, cg.v2].filter((d): d is string => !!d);
  for (const d of dirs) {
    const t = read(`${d}/cgroup.procs`);
    if (t !== undefined) return t.split('\n').filter(Boolean).map(Number).sort((a, b) => a - b);
  }
  return [];
}

export interface RawStats { cpuNs: number; memoryUsage: number; memoryLimit?: number; pids: number }

const UNLIMITED = 2 ** 60; // v1 reports "unlimited" as a page-rounded LONG_MAX

/** Field 22 of /proc/<pid>/stat text (the start time in clock ticks): with the pid, one process for the boot. */
export function procStartTime(stat: string): string | undefined {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

/**
 * The start time the runtime recorded for a container's init (tsstack-runtime's `startTime`, runc's
 * and crun's `init_process_start`) in its state under `runtimeRoot`; undefined when there is none.
 */
export function recordedInitStart(runtimeRoot: string, id: string): string | undefined {
  const st = read(`${runtimeRoot}/${id}/state.json`);
  try {
    const j = st ? (JSON.parse(st) as { startTime?: number; init_process_start?: number }) : undefined;
    const t = j?.startTime || j?.init_process_start;
    return t ? String(t) : undefined;
  } catch {
    return undefined;
  }
}

/** True when `cg` names a cgroup of the container's own (cgroupPaths with its id). */
export function hasOwnCgroup(cg: CgroupPaths): boolean {
  return cg.v2 !== undefined || Object.keys(cg.v1).length > 0;
}

/**
 * Figures of a container with no cgroup of its own (rootless without a delegated subtree): those of
 * its init process from /proc (CPU in clock ticks of 10 ms, its and its waited-for children's).
 */
export function procStats(pid: number): RawStats {
  const st = read(`/proc/${pid}/stat`) ?? '';
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ').map(Number);
  const ticks = (f[11] ?? 0) + (f[12] ?? 0) + (f[13] ?? 0) + (f[14] ?? 0); // utime stime cutime cstime
  const rss = /^VmRSS:\s+(\d+) kB$/m.exec(read(`/proc/${pid}/status`) ?? '');
  return { cpuNs: ticks * 10_000_000, memoryUsage: rss ? Number(rss[1]) * 1024 : 0, pids: st ? 1 : 0 };
}

export function readRawStats(cg: CgroupPaths, pid?: number): RawStats {
  if (pid !== undefined && !hasOwnCgroup(cg)) return procStats(pid);
  let cpuNs = 0, memoryUsage = 0, memoryLimit: number | undefined, pids = 0;
  if (cg.v1.memory && existsSync(`${cg.v1.memory}/memory.usage_in_bytes`)) {
    const usage = num(`${cg.v1.memory}/memory.usage_in_bytes`) ?? 0;
    const inactive = kv(read(`${cg.v1.memory}/memory.stat`), 'total_inactive_file') ?? 0;
    memoryUsage = Math.max(0, usage - inactive);
    const lim = num(`${cg.v1.memory}/memory.limit_in_bytes`);
    memoryLimit = lim !== undefined && lim < UNLIMITED ? lim : undefined;
  } else if (cg.v2 && existsSync(`${cg.v2}/memory.current`)) {
    const usage = num(`${cg.v2}/memory.current`) ?? 0;
    const inactive = kv(read(`${cg.v2}/memory.stat`), 'inactive_file') ?? 0;
    memoryUsage = Math.max(0, usage - inactive);
    memoryLimit = num(`${cg.v2}/memory.max`);
  }
  const acct = cg.v1.cpuacct ?? cg.v1.cpu;
  if (acct && existsSync(`${acct}/cpuacct.usage`)) cpuNs = num(`${acct}/cpuacct.usage`) ?? 0;
  else if (cg.v2) cpuNs = (kv(read(`${cg.v2}/cpu.stat`), 'usage_usec') ?? 0) * 1000;
  if (cg.v1.pids && existsSync(`${cg.v1.pids}/pids.current`)) pids = num(`${cg.v1.pids}/pids.current`) ?? 0;
  else if (cg.v2 && existsSync(`${cg.v2}/pids.current`)) pids = num(`${cg.v2}/pids.current`) ?? 0;
  else pids = cgroupPids(cg).length;
  return { cpuNs, memoryUsage, memoryLimit, pids };
}

/** Bytes received/sent on the container's interfaces other than lo, from its network namespace's /proc/<pid>/net/dev. */
export function netBytes(pid: number): { rx: number; tx: number } {
  const t = read(`/proc/${pid}/net/dev`);
  let rx = 0, tx = 0;
  for (const line of (t ?? '').split('\n').slice(2)) {
    const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === 'lo') continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    rx += f[0] ?? 0;
    tx += f[8] ?? 0;
  }
  return { rx, tx };
}
