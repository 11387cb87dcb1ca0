// IPv4 addresses and prefixes as plain numbers. Pure: no IO.

import { TsstackError } from '../../util/errors.js';

export interface Cidr {
  /** Network address (host bits cleared), as an unsigned 32-bit number. */
  base: number;
  prefix: number;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIpv4(s: string): boolean {
  return IPV4.test(s);
}

/** `10.89.0.1` → 0x0a590001. Throws a NETWORK error naming `what` for anything else. */
export function ipToInt(s: string, what = 'address'): number {
  if (!isIpv4(s)) throw new TsstackError('NETWORK', `invalid IPv4 ${what} "${s}"`, { hint: 'write it as four decimal numbers 0-255, e.g. 10.89.0.5' });
  return s.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses `a.b.c.d/n`; host bits must be zero (`10.89.0.1/24` is refused, as Docker does). */
export function parseCidr(s: string, what = 'subnet'): Cidr {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(s.trim());
  if (!m) throw new TsstackError('NETWORK', `invalid ${what} "${s}": expected a.b.c.d/prefix`, { hint: 'e.g. 10.89.5.0/24' });
  const prefix = Number(m[2]);
  if (prefix > 32) throw new TsstackError('NETWORK', `invalid ${what} "${s}": expected a.b.c.d/prefix with a prefix of 0-32`, { hint: 'e.g. 10.89.5.0/24' });
  const addr = ipToInt(m[1]!, what);
  const base = (addr & maskOf(prefix)) >>> 0;
  if (base !== addr) throw new TsstackError('NETWORK', `invalid ${what} "${s}": host bits are set (did you mean ${intToIp(base)}/${prefix}?)`);
  return { base, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${intToIp(c.base)}/${c.prefix}`;
}

export function size(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function contains(c: Cidr, addr: number): boolean {
  return ((addr & maskOf(c.prefix)) >>> 0) === c.base;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  const m = maskOf(p);
  return ((a.base & m) >>> 0) === ((b.base & m) >>> 0);
}

/** Usable host addresses: excludes the network and broadcast addresses. */
export function firstHost(c: Cidr): number {
  return c.base + 1;
}
export function lastHost(c: Cidr): number {
  return c.base + size(c) - 2;
}
