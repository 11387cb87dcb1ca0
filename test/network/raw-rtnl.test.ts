// raw-rtnl.ts: the link requests removal sends without the netlink package, their acknowledgements,
// and the kind and group a dump gives (manager.ts picks an unused group from them). The deletions
// themselves run on the real kernel in batch-removal.test.ts and network.test.ts.
import test from 'ava';
import { ackErrno, deleteLink, dumpLinks, linkNamed, linkRequest, parseLinkDump, parseLinkReply, type LinkFact } from '../../src/engine/network/raw-rtnl.js';
import { needs } from '../helpers/skip.js';

function attr(type: number, data: Buffer): Buffer {
  const b = Buffer.alloc((4 + data.length + 3) & ~3);
  b.writeUInt16LE(4 + data.length, 0);
  b.writeUInt16LE(type, 2);
  data.copy(b, 4);
  return b;
}
const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };

test('a link request: header, ifinfomsg with the index, attributes; acknowledged', (t) => {
  const r = linkRequest(17, 5, 42, [attr(27, u32(70000))]);
  t.is(r.readUInt32LE(0), r.length);
  t.is(r.length, 16 + 16 + 8);
  t.deepEqual([r.readUInt16LE(4), r.readUInt16LE(6), r.readUInt32LE(8), r.readInt32LE(20)], [17, 1 | 4, 5, 42]);
  t.deepEqual([r.readUInt16LE(32), r.readUInt16LE(34), r.readUInt32LE(36)], [8, 27, 70000]);
});

test('the acknowledgement of a request: its errno, 0 for done; another sequence number is not it', (t) => {
  const ack = (seq: number, err: number) => {
    const b = Buffer.alloc(36);
    b.writeUInt32LE(36, 0);
    b.writeUInt16LE(2, 4); // NLMSG_ERROR
    b.writeUInt32LE(seq, 8);
    b.writeInt32LE(err, 16);
    return b;
  };
  t.is(ackErrno(ack(3, 0), 3), 0);
  t.is(ackErrno(ack(3, -19), 3), 19);
  t.is(ackErrno(ack(2, -19), 3), undefined);
  t.is(ackErrno(Buffer.concat([ack(2, 0), ack(3, -1)]), 3), 1);
  t.is(ackErrno(Buffer.from([1, 2]), 3), undefined, 'a truncated reply is no crash');
});

test('a link dump gives each link\'s kind (IFLA_LINKINFO) and device group', (t) => {
  const body = Buffer.concat([Buffer.alloc(16), attr(3, Buffer.from('br0\0')), attr(27, u32(7)), attr(18, attr(1, Buffer.from('bridge\0')))]);
  body.writeInt32LE(4, 4);
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + body.length, 0);
  h.writeUInt16LE(16, 4);
  const out: LinkFact[] = [];
  parseLinkDump(Buffer.concat([h, body]), out);
  t.deepEqual(out, [{ index: 4, name: 'br0', up: false, group: 7, kind: 'bridge' }]);
});

needs('root')('a link that is not there: refused with ENODEV, in the words manager.ts matches', (t) => {
  const absent = Math.max(0, ...dumpLinks().map((l) => l.index)) + 1000;
  t.throws(() => deleteLink(absent), { message: /^Request rejected: ENODEV$/ });
  t.true(dumpLinks().some((l) => l.name === 'lo' && l.kind === undefined));
});

test('a lookup by name: ENODEV is "no such link", another refusal is an error', (t) => {
  const err = (errno: number) => {
    const b = Buffer.alloc(36);
    b.writeUInt32LE(36, 0);
    b.writeUInt16LE(2, 4); // NLMSG_ERROR
    b.writeUInt32LE(1, 8);
    b.writeInt32LE(-errno, 16);
    return b;
  };
  t.is(parseLinkReply(err(19)), undefined);
  t.throws(() => parseLinkReply(err(22)), { message: /^Request rejected: EINVAL$/ });
});

needs('root')('a lookup by name finds the link a dump lists, without a dump; an absent or too long name is none', (t) => {
  const lo = dumpLinks().find((l) => l.name === 'lo');
  t.deepEqual(linkNamed('lo'), lo);
  t.is(linkNamed('tsq-absent0'), undefined);
  t.is(linkNamed('x'.repeat(16)), undefined);
});
