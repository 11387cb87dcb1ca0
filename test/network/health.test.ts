// The cheap network health check's pure parts: the rtnetlink link dump parser and which networks
// (and ports) a namespace's table renders when one root is used from several namespaces.
import test from 'ava';
import { localRules, parseLinkDump, type LinkFact } from '../../src/engine/network/health.js';
import type { NetworkRecord, PortRecord } from '../../src/engine/network/state.js';

function attr(type: number, data: Buffer): Buffer {
  const len = 4 + data.length;
  const b = Buffer.alloc((len + 3) & ~3);
  b.writeUInt16LE(len, 0);
  b.writeUInt16LE(type, 2);
  data.copy(b, 4);
  return b;
}

function newlink(index: number, flags: number, attrs: Buffer[]): Buffer {
  const body = Buffer.concat([Buffer.alloc(16), ...attrs]);
  body.writeInt32LE(index, 4);
  body.writeUInt32LE(flags, 8);
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + body.length, 0);
  h.writeUInt16LE(16, 4); // RTM_NEWLINK
  return Buffer.concat([h, body]);
}

const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
const done = () => { const h = Buffer.alloc(20); h.writeUInt32LE(20, 0); h.writeUInt16LE(3, 4); return h; };

test('a link dump: names, master, up; ends at DONE', (t) => {
  const out: LinkFact[] = [];
  const part1 = Buffer.concat([newlink(1, 1, [attr(3, Buffer.from('lo\0'))]), newlink(7, 0, [attr(3, Buffer.from('tss-abc\0'))])]);
  t.false(parseLinkDump(part1, out));
  t.true(parseLinkDump(Buffer.concat([newlink(9, 1, [attr(3, Buffer.from('vt1\0')), attr(10, u32(7))]), done()]), out));
  t.deepEqual(out, [{ index: 1, name: 'lo', up: true }, { index: 7, name: 'tss-abc', up: false }, { index: 9, name: 'vt1', up: true, master: 7 }]);
  t.throws(() => parseLinkDump((() => { const e = Buffer.alloc(20); e.writeUInt32LE(20, 0); e.writeUInt16LE(2, 4); e.writeInt32LE(-1, 16); return e; })(), []), { message: /netlink error 1/ });
  t.false(parseLinkDump(Buffer.from([1, 2, 3]), []), 'a truncated buffer is no crash');
});

test('a namespace renders only the networks whose bridges it has, and their containers\' ports', (t) => {
  const net = (name: string, bridge: string, ids: string[]): NetworkRecord => ({ name, id: name, bridge, subnet: '10.0.0.0/24', gateway: '10.0.0.1', internal: false, labels: {}, created: '', endpoints: Object.fromEntries(ids.map((i) => [i, {} as never])) });
  const port = (containerId: string): PortRecord => ({ containerId, address: '10.0.0.2', hostPort: 80, containerPort: 80, protocol: 'tcp' });
  const r = localRules([net('a', 'tss-a', ['c1']), net('b', 'tss-b', ['c2'])], [port('c1'), port('c2')], new Set(['lo', 'tss-a']));
  t.deepEqual(r.nets.map((n) => n.name), ['a']);
  t.deepEqual(r.ports.map((p) => p.containerId), ['c1']);
  t.deepEqual(r.rules, [{ name: 'a', bridge: 'tss-a', subnet: '10.0.0.0/24', internal: false }]);
});
