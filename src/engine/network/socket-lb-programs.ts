// The four cgroup socket-address programs of socket-level translation
// (socket-lb.ts), and the byte layout of the map entries they share with it.
//
// A host process that connects to a published port (127.0.0.1:6379) has its
// socket pointed at the container (10.89.0.2:6379) inside connect() itself, so
// its packets take the same path as a direct connection: no DNAT, no SNAT, no
// re-route per packet. getpeername() and recvmsg() turn the container's address
// back into the one the program asked for, so the process sees what it expects.
//
//   forward map (hash)   key   u64 netns cookie · be32 address · be16 port · u8 protocol · u8 0
//                        value be32 container address · be16 container port · u16 0
//   reverse map (LRU)    key   u64 socket cookie
//                        value be32 address asked · be16 port asked · u16 0 · be32 container · be16 port · u16 0
//
// The netns cookie limits translation to the namespace the ports were published
// in: a program attached to a cgroup also runs for processes of that cgroup in
// other namespaces (containers), whose 127.0.0.1 is their own. Address 0 in a
// forward key means "published on every address": it is consulted for
// destinations in 127.0.0.0/8 only (other local addresses go through the DNAT rules).

import { Asm, FP } from './bpf-asm.js';
import type { PortBinding } from '../api.js';

export const FWD_KEY_SIZE = 16;
export const FWD_VALUE_SIZE = 8;
export const REV_KEY_SIZE = 8;
export const REV_VALUE_SIZE = 16;

const PROTOCOL_NUMBER = { tcp: 6, udp: 17 } as const;
const HELPER = { mapLookup: 1, mapUpdate: 2, socketCookie: 46, netnsCookie: 122 } as const;

// struct bpf_sock_addr offsets (<linux/bpf.h>)
const CTX_USER_IP4 = 4, CTX_USER_PORT = 24, CTX_PROTOCOL = 36, CTX_SK = 64;
// struct bpf_sock: src_ip4, the address the socket is bound to (0 when not bound)
const SK_SRC_IP4 = 24;
/** First octet of a be32 address held in a register (loaded little-endian). */
const FIRST_OCTET_MASK = 0xff;
const LOOPBACK_OCTET = 127;

/** r0 = lookup(map, the key at fp + keyOffset) */
const lookup = (map: number, keyOffset: number) => (a: Asm) => a.loadMapFd(1, map).mov(2, FP).addImm(2, keyOffset).call(HELPER.mapLookup);

export interface ProgramMaps {
  forward: number;
  reverse: number;
}

/**
 * connect4 (TCP) and sendmsg4 (UDP datagrams sent without connect): translate
 * the destination when the forward map has it, and remember, per socket, what
 * was asked for. Sockets bound to a loopback address are left to the DNAT rules
 * (a container is not reachable from 127.0.0.1). A connected UDP socket is left
 * to them too: it would stay pinned to the container it first met, where the
 * DNAT rules follow a replaced container (its conntrack binding is forgotten).
 */
export function translateProgram(maps: ProgramMaps, hook: 'connect4' | 'sendmsg4'): Buffer {
  const a = new Asm();
  a.mov(6, 1).load(4, 7, 6, CTX_PROTOCOL);
  if (hook === 'connect4') a.jneImm(7, PROTOCOL_NUMBER.tcp, 'out');
  a.load(8, 1, 6, CTX_SK)
    .load(4, 2, 1, SK_SRC_IP4)
    .andImm(2, FIRST_OCTET_MASK)
    .jeqImm(2, LOOPBACK_OCTET, 'out')
    .mov(1, 6)
    .call(HELPER.netnsCookie)
    .store(8, FP, -16, 0)
    .load(4, 8, 6, CTX_USER_IP4)
    .store(4, FP, -8, 8)
    .load(4, 9, 6, CTX_USER_PORT)
    .store(2, FP, -4, 9)
    .store(1, FP, -2, 7)
    .storeImm(1, FP, -1, 0)
    .seq(lookup(maps.forward, -16))
    .jneImm(0, 0, 'found')
    // not published on this address: published on every address, and asked on loopback?
    .mov(2, 8)
    .andImm(2, FIRST_OCTET_MASK)
    .jneImm(2, LOOPBACK_OCTET, 'out')
    .storeImm(4, FP, -8, 0)
    .seq(lookup(maps.forward, -16))
    .jeqImm(0, 0, 'out')
    .label('found')
    .load(4, 2, 0, 0)
    .load(2, 3, 0, 4)
    .store(4, 6, CTX_USER_IP4, 2)
    .store(4, 6, CTX_USER_PORT, 3)
    .store(4, FP, -32, 8)
    .store(4, FP, -28, 9)
    .store(4, FP, -24, 2)
    .store(4, FP, -20, 3)
    .mov(1, 6)
    .call(HELPER.socketCookie)
    .store(8, FP, -40, 0)
    .loadMapFd(1, maps.reverse)
    .mov(2, FP)
    .addImm(2, -40)
    .mov(3, FP)
    .addImm(3, -32)
    .movImm(4, 0)
    .call(HELPER.mapUpdate)
    .label('out')
    .movImm(0, 1)
    .exit();
  return a.assemble();
}

/**
 * recvmsg4 and getpeername4: a socket translated earlier sees the address it
 * asked for wherever the kernel would show the container's.
 */
export function restoreProgram(maps: ProgramMaps): Buffer {
  const a = new Asm();
  a.mov(6, 1)
    .call(HELPER.socketCookie)
    .store(8, FP, -8, 0)
    .seq(lookup(maps.reverse, -8))
    .jeqImm(0, 0, 'out')
    .load(4, 2, 6, CTX_USER_IP4)
    .load(4, 3, 0, 8)
    .jne(2, 3, 'out')
    .load(4, 2, 6, CTX_USER_PORT)
    .load(4, 3, 0, 12)
    .jne(2, 3, 'out')
    .load(4, 2, 0, 0)
    .store(4, 6, CTX_USER_IP4, 2)
    .load(4, 2, 0, 4)
    .store(4, 6, CTX_USER_PORT, 2)
    .label('out')
    .movImm(0, 1)
    .exit();
  return a.assemble();
}

/** A published port in the eBPF map: the binding (IPv4 addresses; `hostIp` undefined = every address, matched for 127.0.0.0/8) in one network namespace. */
export interface ForwardEntry extends PortBinding {
  netnsCookie: bigint;
}

function ipv4Bytes(ip: string): Buffer {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) throw new Error(`not an IPv4 address: ${ip}`);
  return Buffer.from(parts);
}

export function forwardKey(e: Pick<ForwardEntry, 'netnsCookie' | 'hostIp' | 'hostPort' | 'protocol'>): Buffer {
  const k = Buffer.alloc(FWD_KEY_SIZE);
  k.writeBigUInt64LE(e.netnsCookie, 0);
  if (e.hostIp !== undefined) ipv4Bytes(e.hostIp).copy(k, 8);
  k.writeUInt16BE(e.hostPort, 12);
  k.writeUInt8(PROTOCOL_NUMBER[e.protocol], 14);
  return k;
}

export function forwardValue(e: Pick<ForwardEntry, 'address' | 'containerPort'>): Buffer {
  const v = Buffer.alloc(FWD_VALUE_SIZE);
  ipv4Bytes(e.address).copy(v, 0);
  v.writeUInt16BE(e.containerPort, 4);
  return v;
}

/** The netns cookie of a forward key (to tell this namespace's entries from others'). */
export function forwardKeyCookie(key: Buffer): bigint {
  return key.readBigUInt64LE(0);
}
