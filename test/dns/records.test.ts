// The records file writer and name rules: pure, literals in and out.

import test from 'ava';
import { containerNames, emptyState, isRecordName, isStateFilePath, parseUpstream, renderRecords, type DnsState } from '../../src/engine/dns/records.js';

const state = (): DnsState => ({
  version: 1,
  serial: 7,
  networks: { shop_front: '10.89.0.1/24', shop_back: '10.89.1.1' },
  containers: {
    bbbbbbbbbbbbbbbbbbbb: { id: 'bbbbbbbbbbbbbbbbbbbb', name: 'shop-web-2', service: 'web', project: 'shop', networks: { shop_front: { address: '10.89.0.3/24', aliases: ['WWW'] } } },
    aaaaaaaaaaaaaaaaaaaa: { id: 'aaaaaaaaaaaaaaaaaaaa', name: 'shop-web-1', service: 'web', project: 'shop', networks: { shop_front: { address: '10.89.0.2', aliases: ['www'] } } },
    cccc: { id: 'cccc', name: 'shop-db-1', service: 'db', project: 'shop', networks: { shop_back: { address: '10.89.1.2', aliases: ['database'] }, shop_front: { address: '10.89.0.4', aliases: [] } } },
  },
});

test('renders a sorted, complete records file', (t) => {
  t.is(renderRecords(state(), { search: ['Corp.Example.', 'corp.example'], upstreams: [{ address: '192.0.2.53', port: 53 }] }), [
    '# tsstack-dns records (written by tsstack; changes are reloaded at once)',
    'serial 7',
    'ttl 5',
    'search corp.example',
    'upstream 192.0.2.53 53',
    'net shop_back 10.89.1.1',
    'net shop_front 10.89.0.1/24',
    'a shop_back database 10.89.1.2',
    'a shop_back db 10.89.1.2',
    'a shop_back db.shop 10.89.1.2',
    'a shop_back shop-db-1 10.89.1.2',
    'a shop_front aaaaaaaaaaaa 10.89.0.2',
    'a shop_front bbbbbbbbbbbb 10.89.0.3',
    'a shop_front db 10.89.0.4',
    'a shop_front db.shop 10.89.0.4',
    'a shop_front shop-db-1 10.89.0.4',
    'a shop_front shop-web-1 10.89.0.2',
    'a shop_front shop-web-2 10.89.0.3',
    'a shop_front web 10.89.0.2',
    'a shop_front web 10.89.0.3',
    'a shop_front web.shop 10.89.0.2',
    'a shop_front web.shop 10.89.0.3',
    'a shop_front www 10.89.0.2',
    'a shop_front www 10.89.0.3',
    'ptr shop_back 10.89.1.2 shop-db-1',
    'ptr shop_front 10.89.0.2 shop-web-1',
    'ptr shop_front 10.89.0.3 shop-web-2',
    'ptr shop_front 10.89.0.4 shop-db-1',
    '',
  ].join('\n'));
});

test('output does not depend on insertion order', (t) => {
  const s = state();
  const reversed: DnsState = { ...s, containers: Object.fromEntries(Object.entries(s.containers).reverse()), networks: Object.fromEntries(Object.entries(s.networks).reverse()) };
  t.is(renderRecords(reversed), renderRecords(s));
});

test('containers on networks without a gateway are left out until it is set', (t) => {
  const s = state();
  delete (s.networks as Record<string, string>).shop_back;
  const out = renderRecords(s);
  t.false(out.includes('shop_back'));
  t.true(out.includes('a shop_front db 10.89.0.4'));
});

test('bad gateways, duplicate gateways, bad addresses and unusable names are skipped', (t) => {
  const s: DnsState = {
    version: 1, serial: 1,
    networks: { a: '10.1.0.1', b: '10.1.0.1', c: 'nonsense', 'bad name': '10.2.0.1' },
    containers: { x: { id: 'x', name: 'x-1', networks: { a: { address: 'not-an-ip', aliases: [] }, c: { address: '10.3.0.2' } } },
      y: { id: 'y', name: 'y-1', networks: { a: { address: '10.1.0.9', aliases: ['has space', 'ok', '#hash', 'a'.repeat(64)] } } } },
  };
  const lines = renderRecords(s).split('\n').filter((l) => !l.startsWith('#') && l);
  t.deepEqual(lines, ['serial 1', 'ttl 5', 'net a 10.1.0.1', 'a a ok 10.1.0.9', 'a a y-1 10.1.0.9', 'ptr a 10.1.0.9 y-1']);
});

test('containerNames: Docker order, lower case, unique', (t) => {
  const c = { id: 'AB'.repeat(32), name: 'Shop-Web-1', service: 'web', project: 'shop', networks: { n: { address: '10.0.0.2', aliases: ['web', 'Api.', 'api'] } } };
  t.deepEqual(containerNames(c, 'n'), ['shop-web-1', 'abababababab', 'web', 'web.shop', 'api']);
  t.deepEqual(containerNames({ id: 'short', name: 'solo', networks: {} }, 'n'), ['solo']);
});

test('isRecordName', (t) => {
  for (const ok of ['web', 'web.shop', 'a-b_c', 'x.', '1']) t.true(isRecordName(ok), ok);
  for (const bad of ['', 'a b', 'a\tb', '#x', 'a..b', 'a'.repeat(64), `${'a'.repeat(60)}.`.repeat(5)]) t.false(isRecordName(bad), bad);
});

test('parseUpstream', (t) => {
  t.deepEqual(parseUpstream('192.0.2.1'), { address: '192.0.2.1', port: 53 });
  t.deepEqual(parseUpstream('127.0.0.1:5353'), { address: '127.0.0.1', port: 5353 });
  t.deepEqual(parseUpstream('2001:db8::1'), { address: '2001:db8::1', port: 53 });
  t.deepEqual(parseUpstream('[2001:db8::1]:5300'), { address: '2001:db8::1', port: 5300 });
  t.is(parseUpstream('dns.example'), undefined);
  t.is(parseUpstream('[192.0.2.1]:53'), undefined);
});

test('internal networks are marked', (t) => {
  const s: DnsState = { ...emptyState(), networks: { priv: { gateway: '10.9.0.1/24', internal: true }, pub: { gateway: '10.8.0.1' } } };
  t.deepEqual(renderRecords(s).split('\n').filter((l) => l.startsWith('net ')), ['net priv 10.9.0.1/24 internal', 'net pub 10.8.0.1']);
});

test('empty state renders only the header', (t) => {
  t.is(renderRecords(emptyState()), '# tsstack-dns records (written by tsstack; changes are reloaded at once)\nserial 0\nttl 5\n');
});

test('a container on several networks has one ptr line per address, all with its own name (the server groups them)', (t) => {
  const s: DnsState = { ...emptyState(), networks: { a: '10.1.0.1', b: '10.2.0.1', c: 'fd00:3::1' },
    containers: { x: { id: 'x', name: 'P-Api-1', service: 'api', networks: { a: { address: '10.1.0.5', aliases: ['alias'] }, b: { address: '10.2.0.5' }, c: { address: '10.3.0.5', ipv6Address: 'fd00:3::5' } } } } };
  const ptrs = renderRecords(s).split('\n').filter((l) => l.startsWith('ptr '));
  t.deepEqual(ptrs, ['ptr a 10.1.0.5 p-api-1', 'ptr b 10.2.0.5 p-api-1', 'ptr c 10.3.0.5 p-api-1', 'ptr c fd00:3::5 p-api-1']);
});

test('a container with a state file gets one state line under its own name, after the ptr lines', (t) => {
  const s = state();
  s.containers.cccc.stateFile = '/var/lib/tsstack/containers/cccc/state.json';
  s.containers.aaaaaaaaaaaaaaaaaaaa.stateFile = '/tmp/with space/containers/aaaa/state.json';
  const lines = renderRecords(s).split('\n');
  t.deepEqual(lines.filter((l) => l.startsWith('state ')), [
    'state shop-db-1 /var/lib/tsstack/containers/cccc/state.json',
    'state shop-web-1 /tmp/with space/containers/aaaa/state.json',
  ]);
  t.is(lines.findIndex((l) => l.startsWith('state ')), lines.filter((l) => l.startsWith('ptr ')).length + lines.findIndex((l) => l.startsWith('ptr ')));
  // The rest of the file is what it was without state files (older servers ignore the new lines).
  t.deepEqual(lines.filter((l) => !l.startsWith('state ')).join('\n'), renderRecords(state()));
});

test('state files the records file cannot carry are left out (the container is then always answered)', (t) => {
  const s: DnsState = { ...emptyState(), networks: { a: '10.1.0.1' }, containers: {} };
  const files = ['relative/state.json', '/dir/', '/a\nb/state.json', '/x/state.json ', ' /x/state.json', ''];
  files.forEach((f, i) => { s.containers[`c${i}`] = { id: `c${i}`, name: `c-${i}`, networks: { a: { address: `10.1.0.${i + 10}` } }, stateFile: f }; });
  s.containers.off = { id: 'off', name: 'off-1', networks: { b: { address: '10.2.0.2' } }, stateFile: '/off/state.json' }; // no gateway for b yet
  t.deepEqual(renderRecords(s).split('\n').filter((l) => l.startsWith('state ')), []);
  for (const ok of ['/s', '/var/lib/tsstack/containers/x/state.json', '/a b/c']) t.true(isStateFilePath(ok), ok);
  for (const bad of files) t.false(isStateFilePath(bad), JSON.stringify(bad));
});
