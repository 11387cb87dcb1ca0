// Socket-level translation of published ports for the host's own processes:
// connect()/sendmsg() to a published port on 127.0.0.0/8 (or on the host IP a
// port is bound to) go straight to the container, so host → container traffic
// through a published port costs what a direct connection costs. The nftables
// DNAT rules stay complete underneath: traffic from outside, from containers
// (hairpin), from processes outside the cgroup, to other local addresses, or
// on a kernel without cgroup v2 takes them, and so does everything when this
// is off (TSSTACK_SOCKET_LB_CGROUP=off) or fails.
//
// Four programs (socket-lb-programs.ts) are attached, with BPF_F_ALLOW_MULTI,
// to one cgroup v2 directory — by default the root of the cgroup2 mount, so
// every host process is covered — while a root has published ports, and
// detached with its last one. Nothing is pinned: a later tsstack process finds
// its root's programs by name among those attached to the cgroup, and their
// maps by id through them, so the attachment is the only state and `down`
// leaves nothing behind.

import { readFileSync } from 'node:fs';
import {
  type AttachType,
  BpfError,
  MAP_TYPE_HASH,
  MAP_TYPE_LRU_HASH,
  F_NO_PREALLOC,
  PROG_TYPE_CGROUP_SOCK_ADDR,
  closeFd,
  mapCreate,
  mapDelete,
  mapFdById,
  mapInfo,
  mapKeys,
  mapUpdate,
  netnsCookie,
  progAttach,
  progDetach,
  progFdById,
  progInfo,
  progLoad,
  progQuery,
  withDirFd,
} from './bpf-sys.js';
import {
  FWD_KEY_SIZE,
  FWD_VALUE_SIZE,
  type ForwardEntry,
  REV_KEY_SIZE,
  REV_VALUE_SIZE,
  forwardKey,
  forwardValue,
  restoreProgram,
  translateProgram,
} from './socket-lb-programs.js';

/** Published ports one root can translate (each is a few dozen bytes of kernel memory, allocated as used). */
const FORWARD_MAX = 65536;
/** Sockets whose translated peer is remembered for getpeername/recvmsg; the least recently used go first. */
const REVERSE_MAX = 16384;

const HOOKS: readonly AttachType[] = ['recvmsg4', 'getpeername4', 'sendmsg4', 'connect4'];
const SUFFIX: Record<AttachType, string> = { connect4: 'c4', sendmsg4: 's4', recvmsg4: 'r4', getpeername4: 'p4' };

/**
 * Where the programs go: TSSTACK_SOCKET_LB_CGROUP (a cgroup v2 directory, or
 * `off`), else the root of the host's cgroup2 mount (/sys/fs/cgroup on a v2
 * host, /sys/fs/cgroup/unified on a hybrid one); undefined = off.
 */
export function socketLbCgroup(env: NodeJS.ProcessEnv = process.env, mountinfo?: string): string | undefined {
  const set = env.TSSTACK_SOCKET_LB_CGROUP;
  if (set === 'off' || set === '0') return undefined;
  if (set) return set;
  let text = mountinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/mountinfo', 'utf8');
    } catch {
      return undefined;
    }
  }
  for (const line of text.split('\n')) {
    // id parent major:minor root mountpoint options [optional…] - fstype source superoptions
    const [left, right] = line.split(' - ');
    if (!right || right.split(' ')[0] !== 'cgroup2') continue;
    const f = left!.split(' ');
    if (f[3] === '/') return f[4]!.replace(/\\040/g, ' ');
  }
  return undefined;
}

interface Attached {
  hook: AttachType;
  fd: number;
  mapIds: number[];
}

interface Maps {
  forward: number;
  reverse: number;
}

export interface SocketLbStatus {
  cgroup?: string;
  /** Hooks with this root's program attached. */
  hooks: AttachType[];
  /** Forward-map entries (published ports translated). */
  entries: number;
}

/** One root's translation; used under the network state lock. */
export class SocketLb {
  private cookie?: bigint;
  private maps?: Maps;
  /** Why the last change fell back to the DNAT rules, if it did. */
  lastError?: string;

  constructor(
    /** Object names start `tss<tag>_`: 8 hex digits of the root's hash. */
    private readonly tag: string,
    readonly cgroup: string | undefined = socketLbCgroup(),
  ) {
    if (!/^[0-9a-f]{8}$/.test(tag)) throw new Error(`socket-lb tag must be 8 hex digits, not ${tag}`);
  }

  private get prefix(): string {
    return `tss${this.tag}_`;
  }

  /** The netns cookie entries are keyed on: the namespace of this process. */
  netnsCookie(): bigint {
    return (this.cookie ??= netnsCookie());
  }

  /**
   * Makes the translation match `entries`: attaches the programs when the first
   * entry comes, detaches them when none is left. On any failure everything is
   * detached (the DNAT rules carry all traffic then) and the reason kept in `lastError`.
   */
  sync(entries: ForwardEntry[]): void {
    this.guard(() => {
      withDirFd(this.cgroup!, (cg) => {
        const found = this.find(cg);
        if (!entries.length) return this.detach(cg, found);
        const maps = this.complete(found) ?? this.attach(cg, found);
        const want = new Map(entries.map((e) => [forwardKey(e).toString('hex'), e]));
        for (const k of mapKeys(maps.forward, FWD_KEY_SIZE)) if (!want.has(k.toString('hex'))) mapDelete(maps.forward, k);
        for (const e of entries) mapUpdate(maps.forward, forwardKey(e), forwardValue(e));
        this.release(found);
      });
    });
  }

  /** The change alone when this root's programs are attached; else like `sync(all)`. */
  apply(all: ForwardEntry[], removed: ForwardEntry[], added: ForwardEntry[]): void {
    if (!this.cgroup) return;
    let done = false;
    this.guard(() => {
      withDirFd(this.cgroup!, (cg) => {
        const found = this.find(cg);
        const maps = all.length ? this.complete(found) : undefined;
        if (maps) {
          for (const e of removed) mapDelete(maps.forward, forwardKey(e));
          for (const e of added) mapUpdate(maps.forward, forwardKey(e), forwardValue(e));
          done = true;
        }
        this.release(found);
      });
    });
    if (!done) this.sync(all);
  }

  /** What is attached for this root now (for tests and `inspect`). */
  status(): SocketLbStatus {
    if (!this.cgroup) return { hooks: [], entries: 0 };
    return withDirFd(this.cgroup, (cg) => {
      const found = this.find(cg);
      try {
        const maps = this.complete(found);
        return { cgroup: this.cgroup, hooks: found.map((f) => f.hook).sort(), entries: maps ? mapKeys(maps.forward, FWD_KEY_SIZE).length : 0 };
      } finally {
        this.release(found);
      }
    });
  }

  /** Closes the map descriptors this process holds; the attachment stays. */
  close(): void {
    if (this.maps) {
      closeFd(this.maps.forward);
      closeFd(this.maps.reverse);
    }
    this.maps = undefined;
  }

  private guard(fn: () => void): void {
    if (!this.cgroup) return;
    try {
      fn();
      this.lastError = undefined;
    } catch (e) {
      this.lastError = e instanceof Error ? e.message : String(e);
      this.close();
      try {
        withDirFd(this.cgroup, (cg) => this.detach(cg, this.find(cg)));
      } catch {
        // nothing attached to take away, or no cgroup at all: the DNAT rules already carry the traffic
      }
    }
  }

  /** This root's programs attached to the cgroup (descriptors open: `release` them). */
  private find(cg: number): Attached[] {
    const out: Attached[] = [];
    for (const hook of HOOKS) {
      let ids: number[];
      try {
        ids = progQuery(cg, hook);
      } catch (e) {
        if (e instanceof BpfError && e.code === 'EINVAL') continue; // a kernel without this hook
        throw e;
      }
      for (const id of ids) {
        const fd = progFdById(id);
        if (fd === undefined) continue;
        const info = progInfo(fd);
        if (info.name === this.prefix + SUFFIX[hook]) out.push({ hook, fd, mapIds: info.mapIds });
        else closeFd(fd);
      }
    }
    return out;
  }

  private release(found: Attached[]): void {
    for (const f of found) closeFd(f.fd);
    found.length = 0;
  }

  /** The maps of a full set of programs (one per hook, sharing their maps), else undefined. */
  private complete(found: Attached[]): Maps | undefined {
    const c4 = found.filter((f) => f.hook === 'connect4');
    if (c4.length !== 1 || found.length !== HOOKS.length || !HOOKS.every((h) => found.some((f) => f.hook === h))) return undefined;
    const ids = c4[0]!.mapIds;
    if (this.maps) {
      const have = [mapInfo(this.maps.forward).id, mapInfo(this.maps.reverse).id];
      if (have.every((id) => ids.includes(id))) return this.maps;
      this.close();
    }
    const maps: Partial<Maps> = {};
    for (const id of ids) {
      const fd = mapFdById(id);
      if (fd === undefined) continue;
      const name = mapInfo(fd).name;
      if (name === `${this.prefix}fwd` && maps.forward === undefined) maps.forward = fd;
      else if (name === `${this.prefix}rev` && maps.reverse === undefined) maps.reverse = fd;
      else closeFd(fd);
    }
    if (maps.forward === undefined || maps.reverse === undefined) {
      closeFd(maps.forward ?? -1);
      closeFd(maps.reverse ?? -1);
      return undefined;
    }
    this.maps = maps as Maps;
    return this.maps;
  }

  /** Replaces whatever part of a set is attached with a new full set; returns its maps. */
  private attach(cg: number, found: Attached[]): Maps {
    this.detach(cg, found);
    this.close();
    const forward = mapCreate({ type: MAP_TYPE_HASH, keySize: FWD_KEY_SIZE, valueSize: FWD_VALUE_SIZE, maxEntries: FORWARD_MAX, flags: F_NO_PREALLOC, name: `${this.prefix}fwd` });
    let reverse = -1;
    const progs: { hook: AttachType; fd: number }[] = [];
    try {
      reverse = mapCreate({ type: MAP_TYPE_LRU_HASH, keySize: REV_KEY_SIZE, valueSize: REV_VALUE_SIZE, maxEntries: REVERSE_MAX, name: `${this.prefix}rev` });
      const maps = { forward, reverse };
      const restore = restoreProgram(maps);
      for (const hook of HOOKS) {
        const insns = hook === 'connect4' || hook === 'sendmsg4' ? translateProgram(maps, hook) : restore;
        progs.push({ hook, fd: progLoad({ type: PROG_TYPE_CGROUP_SOCK_ADDR, attach: hook, insns, name: this.prefix + SUFFIX[hook] }) });
      }
      // the reverse side first: a socket translated is always shown what it asked for
      const attached: typeof progs = [];
      try {
        for (const p of progs) {
          progAttach(cg, p.fd, p.hook);
          attached.push(p);
        }
      } catch (e) {
        for (const p of attached) progDetach(cg, p.fd, p.hook);
        throw e;
      }
      this.maps = maps;
      return maps;
    } catch (e) {
      closeFd(forward);
      closeFd(reverse);
      throw e;
    } finally {
      for (const p of progs) closeFd(p.fd);
    }
  }

  private detach(cg: number, found: Attached[]): void {
    const failures: string[] = [];
    for (const f of found) {
      try {
        progDetach(cg, f.fd, f.hook);
      } catch (e) {
        failures.push(e instanceof Error ? e.message : String(e));
      }
    }
    this.release(found);
    this.close();
    if (failures.length) throw new Error(failures.join('; '));
  }
}
