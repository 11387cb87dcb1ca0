import test from 'ava';
import { dnatTo, parseCtEntry } from '../../src/engine/network/conntrack.js';
import { nla, nlaNested } from '../../src/engine/network/nla.js';

const ip = (s: string) => Buffer.from(s.split('.').map(Number));
const be16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};
// CTA_TUPLE_* { CTA_TUPLE_IP { V4_SRC, V4_DST }, CTA_TUPLE_PROTO { NUM, SRC_PORT, DST_PORT } }
function tuple(type: number, src: string, dst: string, proto: number, sport: number, dport: number): Buffer {
  return nlaNested(type, nlaNested(1, nla(1, ip(src)), nla(2, ip(dst))), nlaNested(2, nla(1, Buffer.from([proto])), nla(2, be16(sport)), nla(3, be16(dport))));
}
function entry(orig: [string, string, number, number], reply: [string, string, number, number], proto = 17): Buffer {
  return Buffer.concat([Buffer.from([2, 0, 0, 0]), tuple(1, orig[0], orig[1], proto, orig[2], orig[3]), tuple(2, reply[0], reply[1], proto, reply[2], reply[3])]);
}

test('parses the tuples of a ctnetlink entry', (t) => {
  const e = parseCtEntry(entry(['127.0.0.1', '127.0.0.1', 40053, 5353], ['10.89.0.2', '10.89.0.1', 53, 40053]));
  t.is(e.origDst, '127.0.0.1');
  t.is(e.replySrc, '10.89.0.2');
  t.is(e.replySrcPort, 53);
  t.is(e.protocol, 'udp');
  t.truthy(e.origTuple);
});

test('selects only entries destination-NATed to the targets', (t) => {
  const natted = parseCtEntry(entry(['127.0.0.1', '127.0.0.1', 40053, 5353], ['10.89.0.2', '10.89.0.1', 53, 40053]));
  const direct = parseCtEntry(entry(['10.89.0.1', '10.89.0.2', 40000, 53], ['10.89.0.2', '10.89.0.1', 53, 40000]));
  const tcp = parseCtEntry(entry(['127.0.0.1', '127.0.0.1', 40054, 5353], ['10.89.0.2', '10.89.0.1', 53, 40054], 6));
  const other = parseCtEntry(entry(['127.0.0.1', '127.0.0.1', 40055, 8080], ['10.89.0.3', '10.89.0.1', 80, 40055]));
  const all = [natted, direct, tcp, other];
  t.deepEqual(dnatTo(all, [{ address: '10.89.0.2', port: 53, protocol: 'udp' }]), [natted]);
  t.deepEqual(dnatTo(all, [{ address: '10.89.0.2' }]), [natted, tcp]);
  t.deepEqual(dnatTo(all, [{ address: '10.89.0.2', port: 80 }]), []);
  t.deepEqual(dnatTo(all, []), []);
});
