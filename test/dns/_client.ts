// A small DNS client and fake upstream for the DNS tests and bench (dns-packet over UDP/TCP).

import dgram from 'node:dgram';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import packet from 'dns-packet';

export type Reply = packet.Packet & { rcode?: string };

export interface QueryOptions {
  port?: number;
  tcp?: boolean;
  timeoutMs?: number;
  edns?: boolean;
}

let nextId = 1;

export function encodeQuery(name: string, type: packet.RecordType | 'ANY', id: number, edns = false): Buffer {
  const q: packet.Packet = { type: 'query', id, flags: packet.RECURSION_DESIRED, questions: [{ type: type as packet.RecordType, name, class: 'IN' }] };
  if (edns) q.additionals = [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] } as unknown as packet.Answer];
  return packet.encode(q);
}

/** One query; resolves with the decoded reply, or 'timeout'. Checks that the id is echoed. */
export function query(server: string, name: string, type: packet.RecordType | 'ANY' = 'A', opts: QueryOptions = {}): Promise<Reply | 'timeout'> {
  const id = (nextId = (nextId % 65535) + 1);
  const msg = encodeQuery(name, type, id, opts.edns);
  const port = opts.port ?? 53;
  const timeoutMs = opts.timeoutMs ?? 2000;
  return new Promise((resolve, reject) => {
    const done = (r: Reply | 'timeout', close: () => void): void => {
      clearTimeout(timer);
      close();
      if (r !== 'timeout' && r.id !== id) reject(new Error(`reply id ${r.id} != ${id}`));
      else resolve(r);
    };
    let timer: NodeJS.Timeout;
    if (opts.tcp) {
      const sock = net.connect({ host: server, port });
      let buf = Buffer.alloc(0);
      timer = setTimeout(() => done('timeout', () => sock.destroy()), timeoutMs);
      sock.on('error', () => undefined);
      sock.on('connect', () => sock.write(Buffer.concat([Buffer.from([msg.length >> 8, msg.length & 0xff]), msg])));
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d as Buffer]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(packet.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))) as Reply, () => sock.destroy());
      });
    } else {
      const sock = dgram.createSocket(server.includes(':') ? 'udp6' : 'udp4');
      timer = setTimeout(() => done('timeout', () => sock.close()), timeoutMs);
      sock.on('error', () => undefined);
      sock.on('message', (m) => done(packet.decode(m) as Reply, () => sock.close()));
      sock.send(msg, port, server);
    }
  });
}

/** Answers' data of one type, sorted. */
export function dataOf(r: Reply | 'timeout', type: string): string[] {
  if (r === 'timeout') return ['timeout'];
  return (r.answers ?? []).filter((a) => a.type === type).map((a) => String((a as { data: unknown }).data)).sort();
}

export interface FakeUpstream {
  port: number;
  queries: { id: number; name: string }[];
  close(): Promise<void>;
}

/** A UDP responder on `address`: answers every A query with `answer` (or stays silent when undefined). */
export function fakeUpstream(address: string, answer?: string, port = 0): Promise<FakeUpstream> {
  const sock = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
  const queries: { id: number; name: string }[] = [];
  sock.on('message', (m, rinfo) => {
    const q = packet.decode(m);
    const name = q.questions?.[0]?.name ?? '';
    queries.push({ id: q.id ?? 0, name });
    if (answer === undefined) return;
    const reply = packet.encode({
      type: 'response', id: q.id, flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE,
      questions: q.questions, answers: [{ type: 'A', name, ttl: 60, data: answer }],
    });
    sock.send(reply, rinfo.port, rinfo.address);
  });
  return new Promise((resolve) => {
    sock.bind(port, address, () => resolve({ port: sock.address().port, queries, close: () => new Promise((r) => sock.close(() => r())) }));
  });
}

/** A bridge with an address, in the test's network namespace (fixture only). */
export function addBridge(name: string, cidr: string): void {
  execFileSync('ip', ['link', 'add', name, 'type', 'bridge']);
  execFileSync('ip', ['addr', 'add', cidr, 'dev', name, ...(cidr.includes(':') ? ['nodad'] : [])]);
  execFileSync('ip', ['link', 'set', name, 'up']);
}

export function delLink(name: string): void {
  try { execFileSync('ip', ['link', 'del', name], { stdio: 'ignore' }); } catch { /* gone */ }
}

export function linkExists(name: string): boolean {
  try {
    execFileSync('ip', ['link', 'show', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** An upstream that answers UDP with TC set and no answers, and TCP with `answers` (RFC 7766 fallback). */
export async function truncatingUpstream(address: string, answers: string[]): Promise<FakeUpstream & { tcpQueries: number }> {
  const udp = await fakeUpstream(address);
  const queries = udp.queries;
  const sockUdp = dgram.createSocket('udp4');
  await udp.close();
  const self = { port: 0, queries, tcpQueries: 0, close: async () => {} };
  sockUdp.on('message', (m, rinfo) => {
    const q = packet.decode(m);
    queries.push({ id: q.id ?? 0, name: q.questions?.[0]?.name ?? '' });
    const reply = packet.encode({ type: 'response', id: q.id, flags: packet.TRUNCATED_RESPONSE | packet.RECURSION_AVAILABLE, questions: q.questions });
    sockUdp.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sockUdp.bind(0, address, () => r()));
  self.port = sockUdp.address().port;
  const server = net.createServer((c) => {
    let buf = Buffer.alloc(0);
    c.on('data', (d) => {
      buf = Buffer.concat([buf, d as Buffer]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      const q = packet.decode(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      self.tcpQueries++;
      const name = q.questions?.[0]?.name ?? '';
      const reply = packet.encode({ type: 'response', id: q.id, flags: packet.RECURSION_AVAILABLE, questions: q.questions,
        answers: answers.map((data) => ({ type: 'A' as const, name, ttl: 60, data })) });
      c.end(Buffer.concat([Buffer.from([reply.length >> 8, reply.length & 0xff]), reply]));
    });
    c.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(self.port, address, () => r()));
  self.close = async () => {
    await new Promise<void>((r) => sockUdp.close(() => r()));
    await new Promise<void>((r) => server.close(() => r()));
  };
  return self;
}
