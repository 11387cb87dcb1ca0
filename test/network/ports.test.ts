import test from 'ava';
import { addressesClash, parseProcNet } from '../../src/engine/network/ports.js';

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0
   1: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12346 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1F90 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000     0        0 12347 1 0000000000000000 100 0 0 10 0
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:18EB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 22222 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:0277 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 22223 1 0000000000000000 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 22224 1 0000000000000000 100 0 0 10 0
`;
const UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 33333 2 0000000000000000 0
  101: 0A00000A:A000 08080808:0035 01 00000000:00000000 00:00000000 00000000     0        0 33334 2 0000000000000000 0
`;

test('parses TCP listeners only', (t) => {
  t.deepEqual(parseProcNet(TCP, 'tcp', false), [
    { protocol: 'tcp', address: '127.0.0.1', port: 8080, inode: 12345 },
    { protocol: 'tcp', address: '0.0.0.0', port: 80, inode: 12346 },
  ]);
});

test('parses IPv6 listeners, any, loopback and mapped', (t) => {
  t.deepEqual(parseProcNet(TCP6, 'tcp', true).map((l) => `${l.address} ${l.port}`), [':: 6379', '::1 631', '::ffff:127.0.0.1 22']);
});

test('parses bound, unconnected UDP sockets only', (t) => {
  t.deepEqual(parseProcNet(UDP, 'udp', false), [{ protocol: 'udp', address: '0.0.0.0', port: 53, inode: 33333 }]);
});

const clashes: [string, string | undefined, boolean][] = [
  ['0.0.0.0', '127.0.0.1', true],
  ['127.0.0.1', undefined, true],
  ['127.0.0.1', '0.0.0.0', true],
  ['::', '10.0.0.1', true],
  ['127.0.0.1', '127.0.0.2', false],
  ['::ffff:127.0.0.1', '127.0.0.1', true],
  ['::1', '127.0.0.1', false],
];
for (const [listen, host, want] of clashes) {
  test(`listener ${listen} vs publish on ${host ?? 'all'} → ${want}`, (t) => {
    t.is(addressesClash(listen, host), want);
  });
}
