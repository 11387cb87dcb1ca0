import test from 'ava';
import { buildTable, canonical, deleteBatch, toBatch, type FwNetwork, type FwPort } from '../../src/engine/network/nft-rules.js';

const nets: FwNetwork[] = [
  { name: 'p_b', bridge: 'tss-bbbb', subnet: '10.89.1.0/24', internal: true },
  { name: 'p_a', bridge: 'tss-aaaa', subnet: '10.89.0.0/24', internal: false },
];
const ports: FwPort[] = [
  { hostPort: 8080, protocol: 'tcp', address: '10.89.0.2', containerPort: 80 },
  { hostIp: '127.0.0.1', hostPort: 6379, protocol: 'tcp', address: '10.89.0.3', containerPort: 6379 },
  { hostIp: '0.0.0.0', hostPort: 53, protocol: 'udp', address: '10.89.0.3', containerPort: 53 },
];

function find(objs: Record<string, any>[], kind: string, name: string) {
  return objs.find((o) => o[kind]?.name === name)?.[kind];
}

test('the table is deterministic whatever the input order', (t) => {
  const a = buildTable(nets, ports);
  const b = buildTable([...nets].reverse(), [...ports].reverse());
  t.deepEqual(a, b);
  t.is(canonical(a), canonical(b));
});

test('ports go into maps keyed by address or by protocol and port only', (t) => {
  const objs = buildTable(nets, ports);
  t.deepEqual(find(objs, 'map', 'ip_addr').elem, [[{ concat: ['127.0.0.1', 'tcp', 6379] }, '10.89.0.3']]);
  t.deepEqual(find(objs, 'map', 'ip_port').elem, [[{ concat: ['127.0.0.1', 'tcp', 6379] }, 6379]]);
  t.deepEqual(find(objs, 'map', 'any_addr').elem, [
    [{ concat: ['tcp', 8080] }, '10.89.0.2'],
    [{ concat: ['udp', 53] }, '10.89.0.3'],
  ]);
  t.deepEqual(find(objs, 'map', 'any_port').elem, [
    [{ concat: ['tcp', 8080] }, 80],
    [{ concat: ['udp', 53] }, 53],
  ]);
  t.deepEqual(find(objs, 'set', 'bridges').elem, ['tss-aaaa', 'tss-bbbb']);
});

test('DNS to a gateway (a local address in a tsstack subnet) is kept out of the DNAT, before it in both nat chains', (t) => {
  const rules = buildTable(nets, ports).filter((o) => o.rule).map((o) => o.rule);
  for (const chain of ['prerouting', 'output']) {
    const inChain = rules.filter((r) => r.chain === chain);
    const keep = inChain.findIndex((r) => JSON.stringify(r.expr) === JSON.stringify([
      { match: { op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: '@subnets' } },
      { match: { op: '==', left: { meta: { key: 'l4proto' } }, right: { set: ['tcp', 'udp'] } } },
      { match: { op: '==', left: { payload: { protocol: 'th', field: 'dport' } }, right: 53 } },
      { return: null },
    ]));
    t.true(keep >= 0, chain);
    t.true(keep < inChain.findIndex((r) => JSON.stringify(r.expr).includes('dnat')), `${chain}: before the DNAT`);
  }
});

test('the number of rules does not grow with the number of ports', (t) => {
  const rules = (p: FwPort[]) => buildTable(nets, p).filter((o) => o.rule).length;
  const many = Array.from({ length: 500 }, (_, i) => ({ hostPort: 10000 + i, protocol: 'tcp' as const, address: '10.89.0.2', containerPort: 80 }));
  t.is(rules(many), rules([]));
});

test('internal networks get drops and no masquerade; every network is isolated', (t) => {
  const rules = buildTable(nets, []).filter((o) => o.rule).map((o) => o.rule);
  const text = (r: any) => JSON.stringify(r.expr);
  const post = rules.filter((r) => r.chain === 'postrouting').map(text);
  t.true(post.some((r) => r.includes('10.89.0.0') && r.includes('"!="') && r.includes('tss-aaaa')));
  t.false(post.some((r) => r.includes('"!="') && r.includes('tss-bbbb')));
  const fwd = rules.filter((r) => r.chain === 'forward').map(text);
  t.is(fwd.filter((r) => r.includes('tss-bbbb') && !r.includes('@bridges') && r.includes('drop')).length, 2);
  t.is(fwd.filter((r) => r.includes('@bridges')).length, 2);
  // internal drops come before the established/dnat accepts
  const firstAccept = fwd.findIndex((r) => r.includes('accept'));
  t.true(fwd.findIndex((r) => r.includes('tss-bbbb') && r.includes('drop')) < firstAccept);
});

test('batches: replace the whole table atomically, or delete it', (t) => {
  const batch = toBatch(buildTable(nets, ports));
  t.deepEqual(batch.slice(0, 3), [
    { add: { table: { family: 'inet', name: 'tsstack' } } },
    { delete: { table: { family: 'inet', name: 'tsstack' } } },
    { add: { table: { family: 'inet', name: 'tsstack' } } },
  ]);
  t.deepEqual(deleteBatch(), [{ delete: { table: { family: 'inet', name: 'tsstack' } } }]);
});

test('canonical ignores handles and element order', (t) => {
  const objs = buildTable(nets, ports);
  const listed = JSON.parse(JSON.stringify(objs)) as Record<string, any>[];
  listed.forEach((o, i) => (Object.values(o)[0].handle = i + 1));
  find(listed, 'set', 'bridges').elem.reverse();
  t.is(canonical([{ metainfo: { version: '1.0.6' } }, ...listed]), canonical(objs));
});

test('the default root owns inet tsstack; other roots get their own table', async (t) => {
  const { tableFor } = await import('../../src/engine/network/manager.js');
  t.is(tableFor('/var/lib/tsstack'), 'tsstack');
  t.is(tableFor('/var/lib/tsstack/'), 'tsstack');
  t.regex(tableFor('/tmp/x'), /^tsstack_[0-9a-f]{8}$/);
  t.not(tableFor('/tmp/x'), tableFor('/tmp/y'));
  const objs = buildTable(nets, ports, 'tsstack_12345678');
  t.true(objs.every((o) => (Object.values(o)[0] as { table?: string; name?: string }).table === 'tsstack_12345678' || (o.table && o.table.name === 'tsstack_12345678')));
  t.deepEqual(toBatch(objs)[1], { delete: { table: { family: 'inet', name: 'tsstack_12345678' } } });
});

test('port changes are element batches: deletes by key first, then adds', async (t) => {
  const { portElementsBatch } = await import('../../src/engine/network/nft-rules.js');
  const moved = { hostPort: 8080, protocol: 'tcp' as const, address: '10.89.0.9', containerPort: 8000 };
  t.deepEqual(portElementsBatch([ports[0]!, ports[1]!], [moved], 't'), [
    { delete: { element: { family: 'inet', table: 't', name: 'any_addr', elem: [{ concat: ['tcp', 8080] }] } } },
    { delete: { element: { family: 'inet', table: 't', name: 'any_port', elem: [{ concat: ['tcp', 8080] }] } } },
    { delete: { element: { family: 'inet', table: 't', name: 'ip_addr', elem: [{ concat: ['127.0.0.1', 'tcp', 6379] }] } } },
    { delete: { element: { family: 'inet', table: 't', name: 'ip_port', elem: [{ concat: ['127.0.0.1', 'tcp', 6379] }] } } },
    { add: { element: { family: 'inet', table: 't', name: 'any_addr', elem: [[{ concat: ['tcp', 8080] }, '10.89.0.9']] } } },
    { add: { element: { family: 'inet', table: 't', name: 'any_port', elem: [[{ concat: ['tcp', 8080] }, 8000]] } } },
  ]);
  t.deepEqual(portElementsBatch([], []), []);
});
