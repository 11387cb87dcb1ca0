// Traffic between the host and the rootless network namespace through pasta
// (Debian's `passt`): outbound connections of the containers, and the published
// ports. The engine publishes a port in its own namespace as root does (nftables
// DNAT on the namespace's 127.0.0.1 and addresses); pasta, run on the host side
// as the user, listens on the host's HOST_IP:PORT and splices each connection to
// the same port inside.
//
// pasta takes its port list at start and cannot change it live (this version has
// no control socket), so published ports are spread over several instances, so
// that an `up` that publishes or withdraws one port does not cut connections
// through the others:
//  - the main instance (`--config-net`, the namespace's tap interface and way out)
//    carries the bindings on all or non-loopback addresses: connections from other
//    hosts arrive through its tap interface, which only one instance may configure;
//    it is started again when that set changes (connections through it then end);
//  - each binding on a loopback address (`127.0.0.1:6379:6379`, the usual one for
//    a developer's stack) has an instance of its own that only splices (loopback
//    peers never take the tap path; its tap interface stays down): added and
//    removed alone, never restarted because of another port. At most
//    SPLICE_INSTANCES of them (a stack publishing a range of 1000 ports must not
//    start 1000 processes): the loopback bindings past those ride the main one.

import { spawnSync } from 'node:child_process';
import { sha256Hex } from '../../util/digest.js';
import { aliveAs } from './alive.js';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../../util/fs-atomic.js';
import { byCodeUnits } from '../../util/compare.js';

export interface Published {
  hostIp?: string;
  hostPort: number;
  protocol: string;
}

/** pasta's `-t`/`-u` value for one binding: `ADDR/PORT`, or `PORT` for every address. */
export function portSpec(p: Published): string {
  const any = !p.hostIp || p.hostIp === '0.0.0.0' || p.hostIp === '::';
  return any ? String(p.hostPort) : `${p.hostIp}/${p.hostPort}`;
}

/** A binding only loopback peers can reach: pasta splices every connection to it, no tap interface involved. */
export function loopbackOnly(p: Published): boolean {
  return !!p.hostIp && (p.hostIp.startsWith('127.') || p.hostIp === '::1');
}

/** What a list of bindings says, in words (for warnings). */
export function describePorts(ports: readonly Published[]): string {
  return [...new Set(ports.map((p) => `${portSpec(p)}/${p.protocol}`))].join(', ');
}

const usable = (ports: readonly Published[]) => ports.filter((p) => (p.protocol === 'tcp' || p.protocol === 'udp') && p.hostPort > 0);

/** pasta's port options for these bindings (`-t none` when there is no TCP one: pasta's default is `auto`). */
function portArgs(ports: readonly Published[]): string[] {
  const of = (proto: string) => [...new Set(ports.filter((p) => p.protocol === proto).map(portSpec))].sort();
  const tcp = of('tcp');
  const udp = of('udp');
  return [
    ...(tcp.length ? tcp.flatMap((s) => ['-t', s]) : ['-t', 'none']),
    ...(udp.length ? udp.flatMap((s) => ['-u', s]) : ['-u', 'none']),
    '-T', 'none', '-U', 'none', // nothing of the host's own ports is offered to the containers
  ];
}

export const SPLICE_INSTANCES = 32;

/** The bindings that get an instance of their own (loopback ones, the first SPLICE_INSTANCES in a stable order) and the rest. Pure. */
function split(ports: readonly Published[]): { own: Published[]; main: Published[] } {
  const seen = new Set<string>();
  const loop = usable(ports).filter(loopbackOnly).filter((p) => !seen.has(spliceKey(p)) && !!seen.add(spliceKey(p)));
  loop.sort((a, b) => a.hostPort - b.hostPort || byCodeUnits(portSpec(a), portSpec(b)) || byCodeUnits(a.protocol, b.protocol));
  const own = loop.slice(0, SPLICE_INSTANCES);
  const ownKeys = new Set(own.map(spliceKey));
  return { own, main: usable(ports).filter((p) => !ownKeys.has(spliceKey(p))) };
}

/** The main instance's arguments: the namespace's way out plus the bindings without an instance of their own. Pure. */
export function pastaArgs(ports: readonly Published[], pid: number, pidFile: string): string[] {
  return [
    '--quiet',
    '--config-net', // the host's addresses and routes inside: outbound traffic leaves as the host's
    ...portArgs(split(ports).main),
    '--pid', pidFile,
    String(pid),
  ];
}

/** The key of a loopback binding's own instance (also its tap interface's name, ≤ 15 characters). */
export function spliceKey(p: Published): string {
  return `tsp${sha256Hex(`${p.protocol} ${portSpec(p)}`).slice(0, 10)}`;
}

/** The arguments of a loopback binding's own instance: that one port, no `--config-net` (its tap stays down). Pure. */
export function spliceArgs(p: Published, pid: number, pidFile: string): string[] {
  return ['--quiet', '-I', spliceKey(p), ...portArgs([p]), '--pid', pidFile, String(pid)];
}

/** Every instance these bindings need, by key ('main' and one per loopback binding), with its arguments. Pure. */
export function pastaPlan(ports: readonly Published[], pid: number, pidFile: (key: string) => string): Map<string, { args: string[]; ports: Published[] }> {
  const plan = new Map<string, { args: string[]; ports: Published[] }>();
  const { own, main } = split(ports);
  plan.set('main', { args: pastaArgs(ports, pid, pidFile('main')), ports: main });
  for (const p of own) plan.set(spliceKey(p), { args: spliceArgs(p, pid, pidFile(spliceKey(p))), ports: [p] });
  return plan;
}

/** The published ports the engine recorded under `root` (network/state.ts `.ports.json`). */
export function recordedPorts(root: string): Published[] {
  try {
    return (JSON.parse(readFileSync(join(root, 'networks', '.ports.json'), 'utf8')) as { ports: Published[] }).ports ?? [];
  } catch {
    return [];
  }
}

interface Instance {
  key: string;
  pid: number;
  args: string[];
  /** Why it could not start (said once: the same attempt is not made again for this holder). */
  failed?: string;
}

interface PastaRecord {
  holder: number;
  instances: Instance[];
}

const RECORD = 'pasta.json';
const pidFileOf = (runRoot: string) => (key: string) => join(runRoot, key === 'main' ? 'pasta.pid' : `pasta-${key}.pid`);

/** A short synchronous wait (the CLI's rootless steps around the namespace are synchronous). */
export function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

// pasta re-executes itself as passt.avx2 where it can
const alivePasta = (pid: number) => aliveAs(pid, /^(pasta|passt)(\.avx2)?$/);

function readRecord(runRoot: string): PastaRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(join(runRoot, RECORD), 'utf8')) as PastaRecord & { pid?: number; args?: string[] };
    if (Array.isArray(r.instances)) return r;
    // one pasta per holder, as earlier versions recorded it
    return typeof r.pid === 'number' ? { holder: r.holder, instances: [{ key: 'main', pid: r.pid, args: r.args ?? [] }] } : undefined;
  } catch {
    return undefined;
  }
}

/** The pastas running for this run root. */
export function pastaPids(runRoot: string): number[] {
  return (readRecord(runRoot)?.instances ?? []).map((i) => i.pid).filter(alivePasta);
}

/** Ends one pasta and waits until it is gone (its ports free again), killed if it lingers. */
function stopOne(pid: number): void {
  if (!alivePasta(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch { /* gone */ }
  for (let i = 0; alivePasta(pid) && i < 200; i++) {
    if (i === 100) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    pause(5);
  }
}

/** Ends every pasta of this run root. */
export function stopPasta(runRoot: string): void {
  const rec = readRecord(runRoot);
  for (const i of rec?.instances ?? []) {
    stopOne(i.pid);
    rmSync(pidFileOf(runRoot)(i.key), { force: true });
  }
  rmSync(join(runRoot, RECORD), { force: true });
  rmSync(pidFileOf(runRoot)('main'), { force: true });
}

/** Starts one pasta; its pid, or why it could not start. */
function startOne(args: string[], pidFile: string): { pid: number } | { why: string } {
  rmSync(pidFile, { force: true });
  // pasta forks into the background once ready; the foreground process's status says whether it is
  const r = spawnSync('pasta', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000, cwd: '/' });
  const why = `${r.stderr ?? ''}${r.stdout ?? ''}`.split('\n').filter((l) => l && !/syslog|No external routable interface for IPv6/.test(l)).join('; ');
  // the pid file is written by the daemon after the fork: give it a moment
  let pid = 0;
  for (let i = 0; r.status === 0 && !alivePasta(pid) && i < 200; i++) {
    try {
      pid = Number(readFileSync(pidFile, 'utf8').trim());
    } catch { /* not yet */ }
    if (!alivePasta(pid)) pause(5);
  }
  if (r.status !== 0 || !alivePasta(pid)) return { why: `pasta failed${why ? `: ${why}` : ''}` };
  return { pid };
}

export const PASTA_PATHS = ['/usr/bin/pasta', '/usr/sbin/pasta', '/bin/pasta'];

/**
 * Makes pasta run for `holder` with exactly `ports`; returns warnings for what cannot be forwarded
 * (empty when all runs). Instances that already run with the right arguments are left alone, so
 * connections through them go on.
 */
export function ensurePasta(runRoot: string, holder: number, ports: readonly Published[]): string[] {
  let rec = readRecord(runRoot);
  if (rec && rec.holder !== holder) {
    stopPasta(runRoot);
    rec = undefined;
  }
  const plan = pastaPlan(ports, holder, pidFileOf(runRoot));
  const kept: Instance[] = [];
  for (const i of rec?.instances ?? []) {
    const want = plan.get(i.key);
    if (want && JSON.stringify(want.args) === JSON.stringify(i.args) && (i.failed || alivePasta(i.pid))) kept.push(i);
    else {
      stopOne(i.pid);
      rmSync(pidFileOf(runRoot)(i.key), { force: true });
    }
  }
  const warnings: string[] = [];
  const installed = PASTA_PATHS.some((p) => existsSync(p));
  for (const [key, { args, ports: carried }] of plan) {
    if (kept.some((i) => i.key === key)) continue;
    const what = key === 'main'
      ? `${carried.length ? `published ports (${describePorts(carried)}) are not reachable from the host and ` : ''}containers have no outbound traffic`
      : `published port ${describePorts(carried)} is not reachable from the host`;
    const r = installed ? startOne(args, pidFileOf(runRoot)(key)) : { why: 'pasta is not installed (as root: apt-get install passt)' };
    if ('pid' in r) kept.push({ key, pid: r.pid, args });
    else {
      const failed = `${what}: ${r.why}${key === 'main' ? ' (it needs /dev/net/tun open to users and a host interface with a route)' : ''}`;
      kept.push({ key, pid: 0, args, failed });
      warnings.push(failed);
    }
  }
  writeFileAtomicSync(join(runRoot, RECORD), JSON.stringify({ holder, instances: kept } satisfies PastaRecord), 0o600);
  return warnings;
}
