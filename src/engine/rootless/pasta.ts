// Traffic between the host and the rootless network namespace, through pasta
// (Debian's `passt`): outbound connections of the containers, and the published
// ports. The engine publishes a port in its own namespace as root does (nftables
// DNAT on the namespace's 127.0.0.1 and addresses); pasta, run on the host side
// as the user, listens on the host's HOST_IP:PORT and splices each connection to
// the same port inside. pasta takes its port list at start, so the CLI keeps one
// pasta per holder and starts it again only when the set of published ports has
// changed (connections through it then end; a stable stack's `up` keeps them).

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../../util/fs-atomic.js';

export interface Published {
  hostIp?: string;
  hostPort: number;
  protocol: string;
}

/** pasta's `-t`/`-u` value for one binding: `ADDR/PORT`, or `PORT` for every address. */
function portSpec(p: Published): string {
  const any = !p.hostIp || p.hostIp === '0.0.0.0' || p.hostIp === '::';
  return any ? String(p.hostPort) : `${p.hostIp}/${p.hostPort}`;
}

/** pasta's arguments to attach to the holder `pid` with these bindings. Pure. */
export function pastaArgs(ports: readonly Published[], pid: number, pidFile: string): string[] {
  const of = (proto: string) => [...new Set(ports.filter((p) => p.protocol === proto && p.hostPort > 0).map(portSpec))].sort();
  const tcp = of('tcp');
  const udp = of('udp');
  return [
    '--quiet',
    '--config-net', // the host's addresses and routes inside: outbound traffic leaves as the host's
    ...(tcp.length ? tcp.flatMap((s) => ['-t', s]) : ['-t', 'none']),
    ...(udp.length ? udp.flatMap((s) => ['-u', s]) : ['-u', 'none']),
    '-T', 'none', '-U', 'none', // nothing of the host's own ports is offered to the containers
    '--pid', pidFile,
    String(pid),
  ];
}

/** The published ports the engine recorded under `root` (network/state.ts `.ports.json`). */
export function recordedPorts(root: string): Published[] {
  try {
    return (JSON.parse(readFileSync(join(root, 'networks', '.ports.json'), 'utf8')) as { ports: Published[] }).ports ?? [];
  } catch {
    return [];
  }
}

interface PastaRecord {
  pid: number;
  holder: number;
  args: string[];
  /** Why it could not start (said once: the same attempt is not made again for this holder). */
  failed?: string;
}

const RECORD = 'pasta.json';

/** A short synchronous wait (the CLI's rootless steps around the namespace are synchronous). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function alivePasta(pid: number): boolean {
  try {
    if (pid <= 0) return false;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2))) return false; // exited, not yet reaped
    return /^(pasta|passt)(\.avx2)?$/.test(readFileSync(`/proc/${pid}/comm`, 'utf8').trim()); // pasta re-executes itself as passt.avx2 where it can
  } catch {
    return false;
  }
}

/** The pasta running for this run root, if any. */
export function pastaPid(runRoot: string): number | undefined {
  try {
    const r = JSON.parse(readFileSync(join(runRoot, RECORD), 'utf8')) as PastaRecord;
    return alivePasta(r.pid) ? r.pid : undefined;
  } catch {
    return undefined;
  }
}

/** Ends the pasta of this run root. */
export function stopPasta(runRoot: string): void {
  const pid = pastaPid(runRoot);
  if (pid) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch { /* gone */ }
    // gone before the command returns (its ports free again), killed if it lingers
    for (let i = 0; alivePasta(pid) && i < 200; i++) {
      if (i === 100) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      pause(5);
    }
  }
  rmSync(join(runRoot, RECORD), { force: true });
  rmSync(join(runRoot, 'pasta.pid'), { force: true });
}

/**
 * Makes pasta run for `holder` with exactly `ports`; returns a warning when it cannot (not installed,
 * refused), undefined when it runs. Nothing is done when the running one already has these ports.
 */
export function ensurePasta(runRoot: string, holder: number, ports: readonly Published[]): string | undefined {
  const pidFile = join(runRoot, 'pasta.pid');
  const args = pastaArgs(ports, holder, pidFile);
  try {
    const r = JSON.parse(readFileSync(join(runRoot, RECORD), 'utf8')) as PastaRecord;
    if (r.holder === holder && (r.failed || alivePasta(r.pid)) && JSON.stringify(r.args) === JSON.stringify(args)) return undefined;
  } catch { /* none yet */ }
  stopPasta(runRoot);
  const failed = (why: string): string => {
    writeFileAtomicSync(join(runRoot, RECORD), JSON.stringify({ pid: 0, holder, args, failed: why } satisfies PastaRecord), 0o600);
    return why;
  };
  const what = ports.length ? `published ports (${[...new Set(ports.map((p) => `${portSpec(p)}/${p.protocol}`))].join(', ')}) are not reachable from the host and containers have no outbound traffic` : 'containers have no outbound traffic';
  if (!['/usr/bin/pasta', '/usr/sbin/pasta', '/bin/pasta'].some((p) => existsSync(p))) return failed(`${what}: pasta is not installed (as root: apt-get install passt)`);
  rmSync(pidFile, { force: true });
  // pasta forks into the background once ready; the foreground process's status says whether it is
  const r = spawnSync('pasta', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000, cwd: '/' });
  const why = `${r.stderr ?? ''}${r.stdout ?? ''}`.split('\n').filter((l) => l && !/syslog/.test(l)).join('; ');
  // the pid file is written by the daemon after the fork: give it a moment
  let pid = 0;
  for (let i = 0; r.status === 0 && !alivePasta(pid) && i < 200; i++) {
    try {
      pid = Number(readFileSync(pidFile, 'utf8').trim());
    } catch { /* not yet */ }
    if (!alivePasta(pid)) pause(5);
  }
  if (r.status !== 0 || !alivePasta(pid)) return failed(`${what}: pasta failed${why ? `: ${why}` : ''} (it needs /dev/net/tun open to users and a host interface with a route)`);
  writeFileAtomicSync(join(runRoot, RECORD), JSON.stringify({ pid, holder, args } satisfies PastaRecord), 0o600);
  return undefined;
}
