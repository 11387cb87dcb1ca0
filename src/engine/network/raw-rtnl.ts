// rtnetlink over a raw socket: libc's socket/send/recv through koffi, which the engine loads
// anyway (nftables). The `netlink` package costs ~45 ms of struct definitions at every command
// that touches a link; what tsstack asks of rtnetlink is a handful of requests (rtnl.ts builds
// them) and three dumps, so they are encoded here.
//
// Every call is synchronous: the kernel answers a request before send() returns but for a link's
// deletion (its RCU grace periods), which it does inside send() anyway; a group's deletion can also
// be sent from the thread pool (deleteLinksAsGroupAsync). An answer that does not come within the
// socket's timeout is a failure, never a hang.

import { getSystemErrorName } from 'node:util';
import koffi from 'koffi';
import { IFLA_IFNAME, IFLA_INFO_KIND } from './nla.js';
import { getLibc } from './libc.js';
import { ffiAsync } from '../../util/ffi-async.js';

export interface LinkFact {
  index: number;
  name: string;
  master?: number;
  up: boolean;
  /** IFLA_LINKINFO's kind (bridge, veth), when the kernel says one. */
  kind?: string;
  /** Device group (IFLA_GROUP), when the kernel says it (always, on Linux ≥ 2.6.38). */
  group?: number;
}

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_GETLINK = 18;
const RTM_SETLINK = 19;
const NLM_F_REQUEST = 1;
const NLM_F_ACK = 4;
const NLM_F_DUMP = 0x300;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const IFLA_MASTER = 10;
const IFLA_LINKINFO = 18;
const IFLA_GROUP = 27;
const IFF_UP = 1;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const HEADER = 16; // nlmsghdr
const IFINFO = 16; // ifinfomsg
/** Seconds a kernel answer may take: a dump is quick, a bridge's deletion on a busy host is not. */
const DUMP_TIMEOUT_S = 2;
const CHANGE_TIMEOUT_S = 10;

type Sys = ReturnType<typeof getLibc>;
const libc = getLibc;

/** The string in an attribute's payload, without its NUL. */
const attrString = (buf: Buffer, a: number, alen: number) => buf.toString('utf8', a + 4, a + alen).replace(/\0+$/, '');

/** Parses RTM_NEWLINK messages of a dump reply; whether the dump ended (DONE). Pure. */
export function parseLinkDump(buf: Buffer, out: LinkFact[]): boolean {
  let off = 0;
  while (off + 16 <= buf.length) {
    const len = buf.readUInt32LE(off);
    const type = buf.readUInt16LE(off + 4);
    if (len < 16 || off + len > buf.length) break;
    if (type === NLMSG_DONE) return true;
    if (type === NLMSG_ERROR) throw new Error(`link dump: netlink error ${-buf.readInt32LE(off + 16)}`);
    if (type === RTM_NEWLINK && len >= 32) {
      const link: LinkFact = { index: buf.readInt32LE(off + 20), name: '', up: (buf.readUInt32LE(off + 24) & IFF_UP) !== 0 };
      for (let a = off + 32; a + 4 <= off + len;) {
        const alen = buf.readUInt16LE(a);
        const atype = buf.readUInt16LE(a + 2) & 0x3fff;
        if (alen < 4) break;
        if (atype === IFLA_IFNAME) link.name = attrString(buf, a, alen);
        else if (atype === IFLA_MASTER && alen >= 8) link.master = buf.readUInt32LE(a + 4);
        else if (atype === IFLA_GROUP && alen >= 8) link.group = buf.readUInt32LE(a + 4);
        else if (atype === IFLA_LINKINFO) {
          // nested: the kind is one of its attributes
          for (let n = a + 4; n + 4 <= a + alen;) {
            const nlen = buf.readUInt16LE(n);
            if (nlen < 4) break;
            if ((buf.readUInt16LE(n + 2) & 0x3fff) === IFLA_INFO_KIND) link.kind = attrString(buf, n, nlen);
            n += (nlen + 3) & ~3;
          }
        }
        a += (alen + 3) & ~3;
      }
      out.push(link);
    }
    off += (len + 3) & ~3;
  }
  return false;
}

/** A socket of this thread's network namespace whose receives give up after `seconds`. */
function socketFd(what: string, seconds: number): number {
  const c = libc();
  const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) throw new Error(`${what}: socket failed (errno ${koffi.errno()})`);
  const tv = Buffer.alloc(16);
  tv.writeBigInt64LE(BigInt(seconds), 0);
  c.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, tv.length);
  return fd;
}

/** A socket of this thread's network namespace whose receives give up after `seconds`; closed after `f`. */
function withSocket<T>(what: string, seconds: number, f: (fd: number, c: Sys) => T): T {
  const fd = socketFd(what, seconds);
  try {
    return f(fd, libc());
  } finally {
    libc().close(fd);
  }
}

/**
 * Round trips to the kernel since the process started, by kind (link dumps, whose cost grows with the
 * links a namespace has; other dumps; single-link lookups; acknowledged requests): what tests of the
 * request structure count.
 */
export const rtnlTrips = { linkDumps: 0, dumps: 0, gets: 0, requests: 0, /** of the requests, link deletions (RTM_DELLINK) */ deletes: 0 };

/** An rtnetlink socket of the calling thread's network namespace (it stays there), for rtnl.ts. */
export interface RtnlSocket {
  readonly fd: number;
  seq: number;
  close(): void;
}

export function openSocket(): RtnlSocket {
  const fd = socketFd('rtnetlink', CHANGE_TIMEOUT_S);
  let open = true;
  return { fd, seq: 0, close: () => { if (open) libc().close(fd); open = false; } };
}

/** One request acknowledged: NLM_F_REQUEST | NLM_F_ACK | `flags`; a refusal throws `Request rejected: EEXIST` (words callers match). */
export function request(s: RtnlSocket, type: number, flags: number, body: Buffer): void {
  sendAcked('rtnetlink', s.fd, message(type, NLM_F_REQUEST | NLM_F_ACK | flags, ++s.seq, body), Buffer.alloc(8192));
}

function count(req: Buffer): void {
  rtnlTrips.requests++;
  if (req.readUInt16LE(4) === RTM_DELLINK) rtnlTrips.deletes++;
}

/**
 * request() on a socket of its own whose send() runs on libuv's thread pool: for a request the kernel
 * takes milliseconds to carry out inside send() (a veth pair: both devices registered, one moved into
 * a sandbox), which the one JavaScript thread spends on other containers meanwhile. The socket is
 * opened here, on the calling thread, so it is of that thread's network namespace whatever thread sends.
 */
export async function requestOffThread(type: number, flags: number, body: Buffer): Promise<void> {
  const fd = socketFd('rtnetlink', CHANGE_TIMEOUT_S);
  try {
    await sendAckedOffThread('rtnetlink', fd, message(type, NLM_F_REQUEST | NLM_F_ACK | flags, 1, body), Buffer.alloc(8192));
  } finally {
    libc().close(fd);
  }
}

/**
 * sendAcked with the send() on libuv's thread pool (koffi's async call): the kernel carries out a
 * link's creation or deletion inside send(); its acknowledgement is queued by the time send() returns.
 */
async function sendAckedOffThread(what: string, fd: number, req: Buffer, buf: Buffer): Promise<void> {
  count(req);
  const sent = Number(await ffiAsync<number | bigint>((done) => libc().send.async(fd, req, req.length, 0, done)));
  if (sent !== req.length) throw new Error(`${what}: send failed (errno ${koffi.errno()})`);
  receiveAck(what, fd, req.readUInt32LE(8), buf);
}

/** Sends one request and waits for its acknowledgement (by the request's sequence number); a refusal throws. */
function sendAcked(what: string, fd: number, req: Buffer, buf: Buffer): void {
  count(req);
  const c = libc();
  const seq = req.readUInt32LE(8);
  if (c.send(fd, req, req.length, 0) !== req.length) throw new Error(`${what}: send failed (errno ${koffi.errno()})`);
  receiveAck(what, fd, seq, buf);
}

/** Reads answers until the acknowledgement of request `seq`; a refusal throws. */
function receiveAck(what: string, fd: number, seq: number, buf: Buffer): void {
  const c = libc();
  for (;;) {
    const n = Number(c.recv(fd, buf, buf.length, 0));
    if (n <= 0) throw new Error(`${what}: no answer from the kernel (errno ${koffi.errno()})`);
    const errno = ackErrno(buf.subarray(0, n), seq);
    if (errno === undefined) continue;
    if (errno !== 0) throw new Error(`Request rejected: ${getSystemErrorName(-errno)}`);
    return;
  }
}

/** A dump: each answer message of `type`'s kind, as its payload (after the header), until DONE. */
export function dump(s: RtnlSocket, type: number, body: Buffer): { type: number; payload: Buffer }[] {
  if (type === RTM_GETLINK) rtnlTrips.linkDumps++;
  else rtnlTrips.dumps++;
  const c = libc();
  const seq = ++s.seq;
  const req = message(type, NLM_F_REQUEST | NLM_F_DUMP, seq, body);
  if (c.send(s.fd, req, req.length, 0) !== req.length) throw new Error(`rtnetlink: send failed (errno ${koffi.errno()})`);
  const out: { type: number; payload: Buffer }[] = [];
  const buf = Buffer.alloc(64 * 1024);
  for (;;) {
    const n = Number(c.recv(s.fd, buf, buf.length, 0));
    if (n <= 0) throw new Error(`rtnetlink: dump: no answer from the kernel (errno ${koffi.errno()})`);
    for (let off = 0; off + HEADER <= n;) {
      const len = buf.readUInt32LE(off);
      if (len < HEADER || off + len > n) break;
      const t = buf.readUInt16LE(off + 4);
      if (buf.readUInt32LE(off + 8) === seq) {
        if (t === NLMSG_DONE) return out;
        if (t === NLMSG_ERROR) throw new Error(`Request rejected: ${getSystemErrorName(buf.readInt32LE(off + HEADER) || -1)}`);
        out.push({ type: t, payload: Buffer.from(buf.subarray(off + HEADER, off + len)) });
      }
      off += (len + 3) & ~3;
    }
  }
}

/** Attributes of a payload from `start`: type (without its flags) → data. Pure. */
export function attributes(payload: Buffer, start: number): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (let a = start; a + 4 <= payload.length;) {
    const alen = payload.readUInt16LE(a);
    if (alen < 4 || a + alen > payload.length) break;
    out.set(payload.readUInt16LE(a + 2) & 0x3fff, payload.subarray(a + 4, a + alen));
    a += (alen + 3) & ~3;
  }
  return out;
}

function message(type: number, flags: number, seq: number, body: Buffer): Buffer {
  const head = Buffer.alloc(HEADER);
  head.writeUInt32LE(HEADER + body.length, 0);
  head.writeUInt16LE(type, 4);
  head.writeUInt16LE(flags, 6);
  head.writeUInt32LE(seq, 8);
  return Buffer.concat([head, body]);
}


/** Every link of this network namespace: one RTM_GETLINK dump. */
export function dumpLinks(): LinkFact[] {
  rtnlTrips.linkDumps++;
  return withSocket('link dump', DUMP_TIMEOUT_S, (fd, c) => {
    const req = message(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 1, ifinfo(0));
    if (c.send(fd, req, req.length, 0) !== req.length) throw new Error(`link dump: send failed (errno ${koffi.errno()})`);
    const out: LinkFact[] = [];
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      const n = Number(c.recv(fd, buf, buf.length, 0));
      if (n <= 0) throw new Error(`link dump: recv failed (errno ${koffi.errno()})`);
      if (parseLinkDump(buf.subarray(0, n), out)) return out;
    }
  });
}

/**
 * The link named `name` in this network namespace, or undefined: one RTM_GETLINK for that name (the
 * kernel looks it up by name), so finding a container's veth does not grow with the links the host has.
 */
export function linkNamed(name: string): LinkFact | undefined {
  if (Buffer.byteLength(name) >= 16) return undefined; // longer than IFNAMSIZ allows: no link has it
  rtnlTrips.gets++;
  return withSocket('link lookup', DUMP_TIMEOUT_S, (fd, c) => {
    const req = message(RTM_GETLINK, NLM_F_REQUEST, 1, ifinfo(0, [nameAttr(name)]));
    if (c.send(fd, req, req.length, 0) !== req.length) throw new Error(`link lookup: send failed (errno ${koffi.errno()})`);
    const buf = Buffer.alloc(16 * 1024);
    const n = Number(c.recv(fd, buf, buf.length, 0));
    if (n <= 0) throw new Error(`link lookup: recv failed (errno ${koffi.errno()})`);
    return parseLinkReply(buf.subarray(0, n));
  });
}

/** IFLA_IFNAME: a link named in a request instead of its index (the kernel looks it up). Pure. */
function nameAttr(name: string): Buffer {
  const a = Buffer.alloc((4 + Buffer.byteLength(name) + 1 + 3) & ~3);
  a.writeUInt16LE(4 + Buffer.byteLength(name) + 1, 0);
  a.writeUInt16LE(IFLA_IFNAME, 2);
  a.write(name, 4);
  return a;
}

/**
 * Sets the link named `name` up, in one acknowledged request on `s` (RTM_NEWLINK without NLM_F_CREATE
 * changes the link the kernel finds by the name): no dump, no lookup first.
 */
export function setUpNamed(s: RtnlSocket, name: string): void {
  request(s, RTM_NEWLINK, 0, ifinfo(0, [nameAttr(name)], IFF_UP, IFF_UP));
}

/** The link of a non-dump RTM_GETLINK reply; undefined when the kernel answers ENODEV (no such name). Pure. */
export function parseLinkReply(buf: Buffer): LinkFact | undefined {
  const errno = ackErrno(buf, buf.length >= 16 ? buf.readUInt32LE(8) : 0);
  if (errno === 19) return undefined; // ENODEV
  if (errno !== undefined && errno !== 0) throw new Error(`Request rejected: ${getSystemErrorName(-errno)}`);
  const out: LinkFact[] = [];
  parseLinkDump(buf, out);
  return out[0];
}

/** One link request (ifinfomsg for `index`, then `attrs`) with an acknowledgement. Pure. */
export function linkRequest(type: number, seq: number, index: number, attrs: Buffer[] = []): Buffer {
  return message(type, NLM_F_REQUEST | NLM_F_ACK, seq, ifinfo(index, attrs));
}

/** struct ifinfomsg for `index` (flags/change: IFF_* to set), then attributes. Pure. */
export function ifinfo(index: number, attrs: Buffer[] = [], flags = 0, change = 0): Buffer {
  const body = Buffer.concat([Buffer.alloc(IFINFO), ...attrs]);
  body.writeInt32LE(index, 4); // ifi_family, pad, ifi_type: 0
  body.writeUInt32LE(flags, 8);
  body.writeUInt32LE(change, 12);
  return body;
}

/** The errno (≥ 0) of the acknowledgement of `seq` in a reply; undefined when the reply holds none. Pure. */
export function ackErrno(buf: Buffer, seq: number): number | undefined {
  for (let off = 0; off + HEADER <= buf.length;) {
    const len = buf.readUInt32LE(off);
    if (len < HEADER || off + len > buf.length) break;
    if (buf.readUInt16LE(off + 4) === NLMSG_ERROR && buf.readUInt32LE(off + 8) === seq && len >= HEADER + 4) return 0 - buf.readInt32LE(off + HEADER); // (never -0)
    off += (len + 3) & ~3;
  }
  return undefined;
}

/** Sends each request and waits for its acknowledgement; a refusal throws `Request rejected: ENODEV` (the package's words, which callers match). */
function change(what: string, requests: Buffer[]): void {
  withSocket(what, CHANGE_TIMEOUT_S, (fd) => {
    const buf = Buffer.alloc(8192);
    for (const req of requests) sendAcked(what, fd, req, buf);
  });
}

const u32Attr = (type: number, v: number) => {
  const b = Buffer.alloc(8);
  b.writeUInt16LE(8, 0);
  b.writeUInt16LE(type, 2);
  b.writeUInt32LE(v, 4);
  return b;
};

/** Deletes one link (a veth takes its peer with it). */
export function deleteLink(index: number): void {
  change('delete link', [linkRequest(RTM_DELLINK, 1, index)]);
}

/**
 * Deletes several links in one kernel operation: each is put in device group `group` (which must
 * be unused here), then one RTM_DELLINK names the group. The kernel unregisters them as one batch,
 * paying its RCU grace periods once instead of once per link.
 */
export function deleteLinksAsGroup(indices: number[], group: number): void {
  change('delete links', groupRequests(indices, group));
}

/** The requests of deleteLinksAsGroup: each link into `group`, then the group's deletion (the last). Pure. */
export function groupRequests(indices: number[], group: number): Buffer[] {
  const reqs = indices.map((index, i) => linkRequest(RTM_SETLINK, i + 1, index, [u32Attr(IFLA_GROUP, group)]));
  reqs.push(linkRequest(RTM_DELLINK, indices.length + 1, 0, [u32Attr(IFLA_GROUP, group)]));
  return reqs;
}

/**
 * deleteLinksAsGroup without holding the event loop: the kernel unregisters the links inside the
 * deletion's send() (its RCU grace periods, ~30 ms), so that one send runs on libuv's thread pool
 * while the rest of a `down` (unmounts, file removals) goes on.
 */
export async function deleteLinksAsGroupAsync(indices: number[], group: number): Promise<void> {
  const reqs = groupRequests(indices, group);
  const del = reqs.pop()!;
  const fd = socketFd('delete links', CHANGE_TIMEOUT_S);
  try {
    const buf = Buffer.alloc(8192);
    for (const req of reqs) sendAcked('delete links', fd, req, buf);
    await sendAckedOffThread('delete links', fd, del, buf);
  } finally {
    libc().close(fd);
  }
}
