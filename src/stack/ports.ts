// Short port syntax → long form: `[[host_ip:]published:]target[/protocol]`,
// with ranges on either side and IPv6 host addresses (`[::1]:8080:80`).
// A container range expands to one entry per port; a host range for a single
// container port stays one entry whose `published` is the range (a replica
// each, then any free port). The long form's `published` is read by parsePublished.

import { isIP } from 'node:net';
import type { PortRange, PortSpec } from '../model/types.js';

export type RawPort = Omit<PortSpec, 'protocol' | 'mode'> & { protocol: string; mode: 'ingress' | 'host' };

type Range = PortRange;

/**
 * The long form's `published` (`8080`, `"9000-9005"`), or undefined when it is not digits. Bounds are
 * left to the engine, as before the model was parsed (a short-syntax port is checked by parsePortShort).
 */
export function parsePublished(s: string): PortRange | undefined {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) return undefined;
  const start = Number(m[1]);
  return { start, end: m[2] === undefined ? start : Number(m[2]) };
}

function parseRange(s: string, what: 'containerPort' | 'hostPort'): Range {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  const bad = () => new Error(`Invalid ${what}: ${s}`);
  if (!m) throw bad();
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  if (start > 65535 || end > 65535 || end < start) throw bad();
  if (what === 'containerPort' && start === 0) throw bad();
  return { start, end };
}

/** Parses one short-syntax port; throws Error with a compose-compatible message. */
export function parsePortShort(spec: string | number): RawPort[] {
  let s = String(spec).trim();
  if (s === '') throw new Error('No port specified: <empty>');
  let protocol = 'tcp';
  const slash = s.lastIndexOf('/');
  if (slash >= 0) {
    protocol = s.slice(slash + 1).toLowerCase();
    s = s.slice(0, slash);
    if (!['tcp', 'udp', 'sctp'].includes(protocol)) throw new Error(`Invalid proto: ${protocol}`);
  }
  let hostIp = '';
  let hostPort = '';
  let containerPort: string;
  const v6 = /^\[([^\]]*)\]:(.*)$/.exec(s);
  if (v6) {
    hostIp = v6[1]!;
    const rest = v6[2]!.split(':');
    if (rest.length !== 2) throw new Error(`Invalid port specification: ${String(spec)}`);
    [hostPort, containerPort] = rest as [string, string];
  } else {
    const parts = s.split(':');
    const n = parts.length;
    containerPort = parts[n - 1]!;
    if (n === 2) hostPort = parts[0]!;
    else if (n >= 3) {
      hostIp = parts.slice(0, n - 2).join(':');
      hostPort = parts[n - 2]!;
    }
  }
  if (hostIp !== '' && isIP(hostIp) === 0) throw new Error(`Invalid ip address: ${hostIp}`);
  const c = parseRange(containerPort, 'containerPort');
  const base = (target: number, published?: PortRange): RawPort => {
    const p: RawPort = { target, protocol, mode: 'ingress' };
    if (published !== undefined) p.published = published;
    if (hostIp !== '') p.host_ip = hostIp;
    return p;
  };
  if (hostPort === '') {
    const out: RawPort[] = [];
    for (let t = c.start; t <= c.end; t++) out.push(base(t));
    return out;
  }
  const h = parseRange(hostPort, 'hostPort');
  if (c.start === c.end) {
    return [base(c.start, h)];
  }
  if (h.end - h.start !== c.end - c.start) {
    throw new Error(`Invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`);
  }
  const out: RawPort[] = [];
  for (let k = 0; k <= c.end - c.start; k++) out.push(base(c.start + k, { start: h.start + k, end: h.start + k }));
  return out;
}
