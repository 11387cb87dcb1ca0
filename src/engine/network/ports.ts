// Who holds a host port: sockets listening in this network namespace
// (/proc/net/{tcp,udp}{,6}) and the processes owning them (/proc/<pid>/fd).
// Parsing is pure; reading /proc is kept to the two small functions at the end.

import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

export interface Listener {
  protocol: 'tcp' | 'udp';
  /** `0.0.0.0`, `127.0.0.1`, `::`, `::1` … */
  address: string;
  port: number;
  inode: number;
}

const TCP_LISTEN = '0A';
const UDP_UNCONNECTED = '07';

function hexToIpv4(h: string): string {
  // /proc prints the address as a host-order (little-endian) u32.
  const n = parseInt(h, 16);
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join('.');
}

function hexToIpv6(h: string): string {
  const groups: string[] = [];
  for (let w = 0; w < 4; w++) {
    const word = h.slice(w * 8, w * 8 + 8);
    const bytes = word.match(/../g)!.reverse().join('');
    groups.push(bytes.slice(0, 4), bytes.slice(4, 8));
  }
  const full = groups.map((g) => parseInt(g, 16).toString(16)).join(':');
  if (full === '0:0:0:0:0:0:0:0') return '::';
  if (full === '0:0:0:0:0:0:0:1') return '::1';
  const m = /^0:0:0:0:0:ffff:([0-9a-f]+):([0-9a-f]+)$/.exec(full);
  if (m) {
    const hi = parseInt(m[1]!, 16), lo = parseInt(m[2]!, 16);
    return `::ffff:${hi >>> 8}.${hi & 255}.${lo >>> 8}.${lo & 255}`;
  }
  return full;
}

/** Listening (tcp) or bound, unconnected (udp) sockets from one /proc/net file's text. */
export function parseProcNet(text: string, protocol: 'tcp' | 'udp', v6: boolean): Listener[] {
  const out: Listener[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [local, remote, state] = [f[1]!, f[2]!, f[3]!];
    if (protocol === 'tcp' ? state !== TCP_LISTEN : state !== UDP_UNCONNECTED || !/^0+:0000$/.test(remote)) continue;
    const [addrHex, portHex] = local.split(':');
    out.push({ protocol, address: v6 ? hexToIpv6(addrHex!) : hexToIpv4(addrHex!), port: parseInt(portHex!, 16), inode: Number(f[9]) });
  }
  return out;
}

const ANY = new Set(['0.0.0.0', '::', '']);

/** Does a listener on `listenAddr` take the host address `hostIp` (undefined = all addresses)? */
export function addressesClash(listenAddr: string, hostIp?: string): boolean {
  const want = hostIp ?? '0.0.0.0';
  if (ANY.has(listenAddr) || ANY.has(want)) return true;
  const norm = (a: string) => a.replace(/^::ffff:/, '');
  return norm(listenAddr) === norm(want);
}

export function readListeners(): Listener[] {
  const out: Listener[] = [];
  for (const [file, protocol, v6] of [['tcp', 'tcp', false], ['tcp6', 'tcp', true], ['udp', 'udp', false], ['udp6', 'udp', true]] as const) {
    let text = '';
    try {
      text = readFileSync(`/proc/net/${file}`, 'utf8');
    } catch {
      continue; // no IPv6 in this kernel
    }
    out.push(...parseProcNet(text, protocol, v6));
  }
  return out;
}

/** The processes holding each socket inode: inode → `pid 1234 (redis-server)`. Unreadable processes are skipped. */
export function socketOwners(inodes: Set<number>): Map<number, string> {
  const owners = new Map<number, string>();
  if (inodes.size === 0) return owners;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (!m || !inodes.has(Number(m[1])) || owners.has(Number(m[1]))) continue;
      let comm = '?';
      try {
        comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch { /* gone */ }
      owners.set(Number(m[1]), `pid ${pid} (${comm})`);
    }
  }
  return owners;
}
