// The bpf(2) commands tsstack uses, over FFI: maps (create, update, delete,
// walk), programs (load, attach to a cgroup, detach, query), reopening both by
// id, and the network namespace cookie that programs compare against. Each
// attribute block is a zeroed `union bpf_attr` filled at the offsets of
// <linux/bpf.h>; pointers inside it are addresses of Node buffers that live
// for the duration of the call.

import { closeSync, openSync } from 'node:fs';
import koffi from 'koffi';
import { getLibc, lastErrno, withSignalsHeld } from './libc.js';

const SYS_BPF: Record<string, number> = { x64: 321, arm64: 280, arm: 386, riscv64: 280, ppc64: 361, s390x: 351 };
const ATTR_SIZE = 144;

// commands
const MAP_CREATE = 0, MAP_UPDATE_ELEM = 2, MAP_DELETE_ELEM = 3, MAP_GET_NEXT_KEY = 4;
const PROG_LOAD = 5, PROG_ATTACH = 8, PROG_DETACH = 9, PROG_GET_FD_BY_ID = 13, MAP_GET_FD_BY_ID = 14;
const OBJ_GET_INFO_BY_FD = 15, PROG_QUERY = 16;

export const MAP_TYPE_HASH = 1;
export const MAP_TYPE_LRU_HASH = 9;
export const PROG_TYPE_CGROUP_SOCK_ADDR = 18;
export const ATTACH = { connect4: 10, sendmsg4: 14, recvmsg4: 19, getpeername4: 29 } as const;
export type AttachType = keyof typeof ATTACH;
export const F_NO_PREALLOC = 1;
export const F_ALLOW_MULTI = 2;
/** Names are at most 15 bytes of [A-Za-z0-9_.] (BPF_OBJ_NAME_LEN 16 with the NUL). */
export const OBJ_NAME_MAX = 15;

export class BpfError extends Error {
  constructor(
    what: string,
    readonly code: string,
    readonly log?: string,
  ) {
    super(`${what}: ${code}${log ? `\n${log}` : ''}`);
  }
}

function bpf(cmd: number, attr: Buffer, what: string): number {
  const nr = SYS_BPF[process.arch];
  if (nr === undefined) throw new BpfError(what, `bpf(2) number unknown on ${process.arch}`);
  const rc = Number(getLibc().bpf(nr, cmd, attr, ATTR_SIZE));
  if (rc < 0) throw new BpfError(what, lastErrno().name);
  return rc;
}

function ptr(b: Buffer): bigint {
  return BigInt(koffi.address(b) as bigint | number);
}

function writeName(attr: Buffer, off: number, name: string): void {
  if (!/^[A-Za-z0-9_.]{1,15}$/.test(name)) throw new Error(`bpf object name "${name}" is not 1–15 of [A-Za-z0-9_.]`);
  attr.write(name, off, 'latin1');
}

export function closeFd(fd: number): void {
  if (fd >= 0) getLibc().close(fd);
}

export interface MapSpec {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags?: number;
  name: string;
}

export function mapCreate(spec: MapSpec): number {
  const a = Buffer.alloc(ATTR_SIZE);
  a.writeUInt32LE(spec.type, 0);
  a.writeUInt32LE(spec.keySize, 4);
  a.writeUInt32LE(spec.valueSize, 8);
  a.writeUInt32LE(spec.maxEntries, 12);
  a.writeUInt32LE(spec.flags ?? 0, 16);
  writeName(a, 28, spec.name);
  return bpf(MAP_CREATE, a, `create map ${spec.name}`);
}

function elemAttr(fd: number, key: Buffer, second?: Buffer, flags = 0): Buffer {
  const a = Buffer.alloc(ATTR_SIZE);
  a.writeUInt32LE(fd, 0);
  a.writeBigUInt64LE(ptr(key), 8);
  if (second) a.writeBigUInt64LE(ptr(second), 16);
  a.writeBigUInt64LE(BigInt(flags), 24);
  return a;
}

export function mapUpdate(fd: number, key: Buffer, value: Buffer): void {
  bpf(MAP_UPDATE_ELEM, elemAttr(fd, key, value), 'update map element');
}

/** Deletes one key; an absent key is not an error. */
export function mapDelete(fd: number, key: Buffer): void {
  try {
    bpf(MAP_DELETE_ELEM, elemAttr(fd, key), 'delete map element');
  } catch (e) {
    if (!(e instanceof BpfError && e.code === 'ENOENT')) throw e;
  }
}

/** Every key of a hash map (a key deleted meanwhile may restart the walk: keys are de-duplicated). */
export function mapKeys(fd: number, keySize: number): Buffer[] {
  const seen = new Map<string, Buffer>();
  let prev: Buffer | undefined;
  for (;;) {
    const next = Buffer.alloc(keySize);
    const a = Buffer.alloc(ATTR_SIZE);
    a.writeUInt32LE(fd, 0);
    if (prev) a.writeBigUInt64LE(ptr(prev), 8);
    a.writeBigUInt64LE(ptr(next), 16);
    try {
      bpf(MAP_GET_NEXT_KEY, a, 'walk map');
    } catch (e) {
      if (e instanceof BpfError && e.code === 'ENOENT') break;
      throw e;
    }
    const k = next.toString('hex');
    if (seen.has(k)) break;
    seen.set(k, next);
    prev = next;
  }
  return [...seen.values()];
}

export interface ProgSpec {
  type: number;
  attach: AttachType;
  insns: Buffer;
  name: string;
}

/** Loads a program; a verifier refusal carries the verifier's log. */
export function progLoad(spec: ProgSpec): number {
  const license = Buffer.from('GPL\0', 'latin1');
  const attempt = (logSize: number): number => {
    const log = logSize ? Buffer.alloc(logSize) : undefined;
    const a = Buffer.alloc(ATTR_SIZE);
    a.writeUInt32LE(spec.type, 0);
    a.writeUInt32LE(spec.insns.length / 8, 4);
    a.writeBigUInt64LE(ptr(spec.insns), 8);
    a.writeBigUInt64LE(ptr(license), 16);
    if (log) {
      a.writeUInt32LE(1, 24);
      a.writeUInt32LE(logSize, 28);
      a.writeBigUInt64LE(ptr(log), 32);
    }
    writeName(a, 48, spec.name);
    a.writeUInt32LE(ATTACH[spec.attach], 68);
    try {
      // the verifier gives up with EAGAIN when a signal is pending (SIGCHLD of a child just ended)
      return withSignalsHeld(() => bpf(PROG_LOAD, a, `load bpf program ${spec.name}`));
    } catch (e) {
      if (log && e instanceof BpfError) throw new BpfError(`load bpf program ${spec.name}`, e.code, log.toString('latin1').replace(/\0.*$/s, '').trim());
      throw e;
    }
  };
  try {
    return attempt(0);
  } catch (e) {
    // again with a log, only to say why
    if (e instanceof BpfError && (e.code === 'EINVAL' || e.code === 'EACCES')) return attempt(1 << 16);
    throw e;
  }
}

function attachAttr(cgroupFd: number, progFd: number, type: AttachType, flags: number): Buffer {
  const a = Buffer.alloc(ATTR_SIZE);
  a.writeUInt32LE(cgroupFd, 0);
  a.writeUInt32LE(progFd, 4);
  a.writeUInt32LE(ATTACH[type], 8);
  a.writeUInt32LE(flags, 12);
  return a;
}

export function progAttach(cgroupFd: number, progFd: number, type: AttachType): void {
  bpf(PROG_ATTACH, attachAttr(cgroupFd, progFd, type, F_ALLOW_MULTI), `attach ${type} program`);
}

/** Detaches one program; one already gone is not an error. */
export function progDetach(cgroupFd: number, progFd: number, type: AttachType): void {
  try {
    bpf(PROG_DETACH, attachAttr(cgroupFd, progFd, type, 0), `detach ${type} program`);
  } catch (e) {
    if (!(e instanceof BpfError && e.code === 'ENOENT')) throw e;
  }
}

/** Ids of the programs attached to the cgroup itself (not inherited) for one hook. */
export function progQuery(cgroupFd: number, type: AttachType): number[] {
  const ids = Buffer.alloc(4 * 64);
  const a = Buffer.alloc(ATTR_SIZE);
  a.writeUInt32LE(cgroupFd, 0);
  a.writeUInt32LE(ATTACH[type], 4);
  a.writeBigUInt64LE(ptr(ids), 16);
  a.writeUInt32LE(64, 24);
  bpf(PROG_QUERY, a, `query ${type} programs`);
  const n = a.readUInt32LE(24);
  return Array.from({ length: Math.min(n, 64) }, (_, i) => ids.readUInt32LE(i * 4));
}

function fdById(cmd: number, id: number, what: string): number | undefined {
  const a = Buffer.alloc(ATTR_SIZE);
  a.writeUInt32LE(id, 0);
  try {
    return bpf(cmd, a, what);
  } catch (e) {
    if (e instanceof BpfError && e.code === 'ENOENT') return undefined; // freed meanwhile
    throw e;
  }
}

export const progFdById = (id: number) => fdById(PROG_GET_FD_BY_ID, id, `open bpf program ${id}`);
export const mapFdById = (id: number) => fdById(MAP_GET_FD_BY_ID, id, `open bpf map ${id}`);

export interface ProgInfo {
  id: number;
  name: string;
  mapIds: number[];
}

export function progInfo(fd: number): ProgInfo {
  const info = Buffer.alloc(232);
  const mapIds = Buffer.alloc(4 * 8);
  info.writeUInt32LE(8, 52);
  info.writeBigUInt64LE(ptr(mapIds), 56);
  const a = Buffer.alloc(ATTR_SIZE);
  a.writeUInt32LE(fd, 0);
  a.writeUInt32LE(info.length, 4);
  a.writeBigUInt64LE(ptr(info), 8);
  bpf(OBJ_GET_INFO_BY_FD, a, 'read bpf program info');
  const n = Math.min(info.readUInt32LE(52), 8);
  return {
    id: info.readUInt32LE(4),
    name: info.subarray(64, 80).toString('latin1').replace(/\0.*$/s, ''),
    mapIds: Array.from({ length: n }, (_, i) => mapIds.readUInt32LE(i * 4)),
  };
}

export function mapInfo(fd: number): { id: number; name: string; keySize: number; valueSize: number } {
  const info = Buffer.alloc(88);
  const a = Buffer.alloc(ATTR_SIZE);
  a.writeUInt32LE(fd, 0);
  a.writeUInt32LE(info.length, 4);
  a.writeBigUInt64LE(ptr(info), 8);
  bpf(OBJ_GET_INFO_BY_FD, a, 'read bpf map info');
  return { id: info.readUInt32LE(4), keySize: info.readUInt32LE(8), valueSize: info.readUInt32LE(12), name: info.subarray(24, 40).toString('latin1').replace(/\0.*$/s, '') };
}

/** Runs `fn` with a read-only descriptor of a directory (a cgroup), closed afterwards. */
export function withDirFd<T>(path: string, fn: (fd: number) => T): T {
  const fd = openSync(path, 'r');
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

const AF_INET = 2, SOCK_DGRAM = 2, SOCK_CLOEXEC = 0o2000000, SOL_SOCKET = 1, SO_NETNS_COOKIE = 71;

/** The cookie of the calling thread's network namespace (what bpf_get_netns_cookie returns there). */
export function netnsCookie(): bigint {
  const libc = getLibc();
  const fd = libc.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new BpfError('socket', lastErrno().name);
  try {
    const value = Buffer.alloc(8), len = Buffer.alloc(4);
    len.writeUInt32LE(8, 0);
    if (libc.getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, value, len) < 0) throw new BpfError('getsockopt SO_NETNS_COOKIE', lastErrno().name);
    return value.readBigUInt64LE(0);
  } finally {
    libc.close(fd);
  }
}
