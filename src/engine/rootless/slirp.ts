// slirp4netns, the fallback when pasta is not installed: outbound traffic of the
// containers through its tap interface (`--configure`: 10.0.2.100/24, the way out
// via 10.0.2.2; `--disable-host-loopback`: the containers cannot reach the host's
// 127.0.0.1 through it), and the published ports forwarded from the host through
// its API socket (`add_hostfwd`/`remove_hostfwd`), which changes them live: an
// `up` that publishes or withdraws a port leaves the other connections alone.
// `--enable-sandbox --enable-seccomp` where the host allows them (the process
// then sees only /etc and /run of the host's files, and a short list of syscalls).
//
// A forward ends on the namespace address the engine's DNAT rules match (any
// local address for a binding on every address; the binding's own address
// otherwise): 10.0.2.100 for the former, the loopback address itself for a
// loopback binding, which the namespace accepts on tap0 with route_localnet.

import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { aliveAs } from './alive.js';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../../util/fs-atomic.js';
import { describePorts, loopbackOnly, pause, type Published } from './pasta.js';

export const SLIRP_PATHS = ['/usr/bin/slirp4netns', '/usr/sbin/slirp4netns', '/bin/slirp4netns'];
const TAP = 'tap0';
const GUEST = '10.0.2.100';
const RECORD = 'slirp.json';
const SOCKET = 'slirp.sock';
const LOG = 'slirp.log';

/** slirp4netns's arguments to serve the holder `pid`'s network namespace. Pure. */
export function slirpArgs(pid: number, apiSocket: string, sandbox: boolean): string[] {
  return [
    '--configure', '--mtu=65520', '--disable-host-loopback',
    ...(sandbox ? ['--enable-sandbox', '--enable-seccomp'] : []),
    '--api-socket', apiSocket,
    '--userns-path', `/proc/${pid}/ns/user`, // the namespace is the user's: slirp4netns joins its owner to enter it
    '--ready-fd', '3',
    String(pid), TAP,
  ];
}

export interface HostFwd {
  proto: string;
  host_addr: string;
  host_port: number;
  guest_addr: string;
  guest_port: number;
}

/** The add_hostfwd arguments for one binding, or undefined when slirp4netns cannot carry it. Pure. */
export function hostfwd(p: Published): HostFwd | undefined {
  if ((p.protocol !== 'tcp' && p.protocol !== 'udp') || p.hostPort <= 0) return undefined;
  const any = !p.hostIp || p.hostIp === '0.0.0.0' || p.hostIp === '::';
  // a binding on one non-loopback address matches that address inside, which the namespace does not have here
  if (!any && !(loopbackOnly(p) && p.hostIp!.includes('.'))) return undefined;
  return { proto: p.protocol, host_addr: any ? '0.0.0.0' : p.hostIp!, host_port: p.hostPort, guest_addr: any ? GUEST : p.hostIp!, guest_port: p.hostPort };
}

const fwdKey = (f: HostFwd) => `${f.proto} ${f.host_addr}:${f.host_port}`;

interface SlirpRecord {
  holder: number;
  pid: number;
  sandbox: boolean;
  /** The forwards added, by key, with the id slirp4netns gave them. */
  fwds: { key: string; id: number }[];
  /** Why it could not start (said once for this holder). */
  failed?: string;
}

const aliveSlirp = (pid: number) => aliveAs(pid, /^slirp4netns$/);

function readRecord(runRoot: string): SlirpRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(runRoot, RECORD), 'utf8')) as SlirpRecord;
  } catch {
    return undefined;
  }
}

function writeRecord(runRoot: string, r: SlirpRecord): void {
  writeFileAtomicSync(join(runRoot, RECORD), JSON.stringify(r), 0o600);
}

/** The slirp4netns running for this run root, if any. */
export function slirpPids(runRoot: string): number[] {
  const pid = readRecord(runRoot)?.pid ?? 0;
  return aliveSlirp(pid) ? [pid] : [];
}

/** Ends the slirp4netns of this run root (its forwards go with it). */
export function stopSlirp(runRoot: string): void {
  for (const pid of slirpPids(runRoot)) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch { /* gone */ }
    for (let i = 0; aliveSlirp(pid) && i < 200; i++) {
      if (i === 100) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      pause(5);
    }
  }
  for (const f of [RECORD, SOCKET, LOG]) rmSync(join(runRoot, f), { force: true });
}

/** One request to the API socket; its parsed answer. */
async function api(socket: string, request: object): Promise<{ return?: { id?: number }; error?: { desc?: string } }> {
  return await new Promise((resolve, reject) => {
    const s = connect(socket);
    let out = '';
    s.setTimeout(5000, () => s.destroy(new Error('slirp4netns did not answer on its API socket')));
    s.on('connect', () => s.end(JSON.stringify(request)));
    s.on('data', (d) => (out += d.toString()));
    s.on('error', reject);
    s.on('close', () => {
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`slirp4netns answered ${JSON.stringify(out)}`));
      }
    });
  });
}

/** Starts slirp4netns; its pid once it reports ready, or why not (the tail of its log). */
async function startOne(runRoot: string, holder: number, sandbox: boolean): Promise<{ pid: number } | { why: string }> {
  const sock = join(runRoot, SOCKET);
  rmSync(sock, { force: true });
  const log = openSync(join(runRoot, LOG), 'w', 0o600);
  const child = spawn('slirp4netns', slirpArgs(holder, sock, sandbox), { detached: true, stdio: ['ignore', log, log, 'pipe'], cwd: '/' });
  closeSync(log);
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 10_000);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      resolve(ok);
    };
    child.stdio[3]?.on('data', (d: Buffer) => d.toString().includes('1') && done(true));
    child.on('exit', () => done(false));
    child.on('error', () => done(false));
  });
  (child.stdio[3] as { destroy?: () => void } | null)?.destroy?.();
  child.unref();
  if (ready && child.pid && aliveSlirp(child.pid)) return { pid: child.pid };
  if (child.pid) try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
  let tail = '';
  try {
    tail = readFileSync(join(runRoot, LOG), 'utf8').split('\n').filter((l) => l && !/^WARNING: Support for seccomp/.test(l)).slice(-3).join('; ');
  } catch { /* none */ }
  return { why: `slirp4netns failed${tail ? `: ${tail}` : ''}` };
}

/** Lets loopback forwards in: tap0 accepts (and answers from) 127.0.0.0/8, where the engine's DNAT for loopback bindings matches. */
function routeLocalnet(holder: number): void {
  spawnSync('nsenter', ['-t', String(holder), '-U', '-n', '--preserve-credentials', 'sh', '-c', `echo 1 > /proc/sys/net/ipv4/conf/${TAP}/route_localnet`], { stdio: 'ignore' });
}

/**
 * Makes slirp4netns run for `holder` forwarding exactly `ports`; warnings for what it cannot do.
 * Forwards are added and removed one by one on the running process: nothing else is cut.
 */
export async function ensureSlirp(runRoot: string, holder: number, ports: readonly Published[]): Promise<string[]> {
  let rec = readRecord(runRoot);
  if (rec && (rec.holder !== holder || (!rec.failed && !aliveSlirp(rec.pid)))) {
    stopSlirp(runRoot);
    rec = undefined;
  }
  const warnings: string[] = [];
  const wanted = new Map<string, HostFwd>();
  const unsupported: Published[] = [];
  for (const p of ports) {
    const f = hostfwd(p);
    if (f) wanted.set(fwdKey(f), f);
    else if (p.protocol === 'tcp' || p.protocol === 'udp') unsupported.push(p);
  }
  if (unsupported.length) warnings.push(`published ports (${describePorts(unsupported)}) are not reachable from the host: slirp4netns forwards ports on all addresses or on a loopback address only (install passt for pasta)`);
  if (rec?.failed) return warnings;
  if (!rec) {
    const what = `${wanted.size ? `published ports (${describePorts(ports)}) are not reachable from the host and ` : ''}containers have no outbound traffic`;
    if (!SLIRP_PATHS.some((p) => existsSync(p))) {
      const failed = `${what}: slirp4netns is not installed (as root: apt-get install slirp4netns)`;
      writeRecord(runRoot, { holder, pid: 0, sandbox: false, fwds: [], failed });
      return [...warnings, failed];
    }
    // the sandbox needs a mount namespace of its own and an /etc/resolv.conf inside /etc or /run: without it where refused
    let r = await startOne(runRoot, holder, true);
    let sandbox = true;
    if (!('pid' in r)) {
      r = await startOne(runRoot, holder, false);
      sandbox = false;
    }
    if (!('pid' in r)) {
      const failed = `${what}: ${r.why} (it needs /dev/net/tun open to users)`;
      writeRecord(runRoot, { holder, pid: 0, sandbox: false, fwds: [], failed });
      return [...warnings, failed];
    }
    routeLocalnet(holder);
    rec = { holder, pid: r.pid, sandbox, fwds: [] };
    writeRecord(runRoot, rec);
  }
  const sock = join(runRoot, SOCKET);
  const fwds: { key: string; id: number }[] = [];
  for (const f of rec.fwds) {
    if (wanted.has(f.key)) fwds.push(f);
    else {
      try {
        await api(sock, { execute: 'remove_hostfwd', arguments: { id: f.id } });
      } catch { /* it goes when slirp4netns ends */ }
    }
  }
  for (const [key, f] of wanted) {
    if (fwds.some((x) => x.key === key)) continue;
    try {
      const a = await api(sock, { execute: 'add_hostfwd', arguments: f });
      if (typeof a.return?.id === 'number') fwds.push({ key, id: a.return.id });
      else warnings.push(`published port ${f.host_addr}:${f.host_port}/${f.proto} is not reachable from the host: slirp4netns refused it: ${a.error?.desc ?? JSON.stringify(a)}`);
    } catch (e) {
      warnings.push(`published port ${f.host_addr}:${f.host_port}/${f.proto} is not reachable from the host: ${(e as Error).message}`);
    }
  }
  writeRecord(runRoot, { ...rec, fwds });
  return warnings;
}
