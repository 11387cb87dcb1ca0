import test from 'ava';
import { TsstackError } from '../../src/util/errors.js';
import { freePort, portProblems } from '../../src/engine/network/port-conflicts.js';
import type { Listener } from '../../src/engine/network/ports.js';
import type { PortRecord } from '../../src/engine/network/state.js';

const published: PortRecord[] = [
  { containerId: 'web1', address: '10.89.0.2', hostPort: 8080, containerPort: 80, protocol: 'tcp' },
  { containerId: 'db', address: '10.89.0.3', hostIp: '127.0.0.1', hostPort: 5432, containerPort: 5432, protocol: 'tcp' },
];
const listeners: Listener[] = [
  { protocol: 'tcp', address: '0.0.0.0', port: 22, inode: 100 },
  { protocol: 'udp', address: '127.0.0.53', port: 53, inode: 200 },
  { protocol: 'tcp', address: '::', port: 9000, inode: 300 },
];
const owners = (inodes: Set<number>) => new Map([...inodes].map((i) => [i, i === 300 ? 'pid 42 (php-fpm)' : `pid ${i} (sshd)`]));
const never = () => {
  throw new Error('owners looked up without a clash');
};

const cases: [string, Parameters<typeof portProblems>[0], string[]][] = [
  ['free ports', [{ hostPort: 8081, containerPort: 80, protocol: 'tcp' }, { hostPort: 8080, containerPort: 80, protocol: 'udp' }], []],
  ['published by another container', [{ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' }], ['host port 127.0.0.1:8080/tcp is already published by container web1 (0.0.0.0:8080/tcp → 10.89.0.2:80)']],
  ['another address than a bound one is free', [{ hostIp: '127.0.0.2', hostPort: 5432, containerPort: 5432, protocol: 'tcp' }], []],
  ['all addresses clash with a bound one', [{ hostPort: 5432, containerPort: 5432, protocol: 'tcp' }], ['host port 0.0.0.0:5432/tcp is already published by container db (127.0.0.1:5432/tcp → 10.89.0.3:5432)']],
  ['held by a process', [{ hostPort: 22, containerPort: 22, protocol: 'tcp' }], ['host port 0.0.0.0:22/tcp is already in use by pid 100 (sshd) listening on 0.0.0.0:22/tcp']],
  ['held by an IPv6 wildcard socket', [{ hostIp: '127.0.0.1', hostPort: 9000, containerPort: 9000, protocol: 'tcp' }], ['host port 127.0.0.1:9000/tcp is already in use by pid 42 (php-fpm) listening on [::]:9000/tcp']],
  ['UDP on a specific address only', [{ hostPort: 53, containerPort: 53, protocol: 'udp' }], ['host port 0.0.0.0:53/udp is already in use by pid 200 (sshd) listening on 127.0.0.53:53/udp']],
  ['asked twice', [{ hostPort: 7000, containerPort: 80, protocol: 'tcp' }, { hostIp: '127.0.0.1', hostPort: 7000, containerPort: 81, protocol: 'tcp' }], ['host port 127.0.0.1:7000/tcp is published twice (also as 0.0.0.0:7000/tcp)']],
  ['bad numbers and IPv6 host addresses', [{ hostPort: 70000, containerPort: 0, protocol: 'tcp' }, { hostIp: '::1', hostPort: 80, containerPort: 80, protocol: 'tcp' }], [
    'host port 70000 is not a port number (1-65535)',
    'container port 0 is not a port number (1-65535)',
    'host address ::1 of ::1:80/tcp is not supported (IPv4 only)',
  ]],
  ['port 0 never clashes', [{ hostPort: 0, containerPort: 80, protocol: 'tcp' }, { hostPort: 0, containerPort: 81, protocol: 'tcp' }], []],
];
for (const [name, ports, want] of cases) {
  test(`portProblems: ${name}`, (t) => {
    const needOwners = want.some((w) => w.includes('in use by'));
    t.deepEqual(portProblems(ports, published, listeners, needOwners ? owners : never), want);
  });
}

test('portProblems: a host address this host does not have', (t) => {
  const local = new Set(['192.168.1.10']);
  const ports = [
    { hostIp: '192.168.1.10', hostPort: 80, containerPort: 80, protocol: 'tcp' as const },
    { hostIp: '127.0.0.5', hostPort: 80, containerPort: 80, protocol: 'tcp' as const },
    { hostIp: '192.168.1.11', hostPort: 81, containerPort: 80, protocol: 'tcp' as const },
  ];
  t.deepEqual(portProblems(ports, [], [], never, local), ['host address 192.168.1.11 of 192.168.1.11:81/tcp is not an address of this host']);
});

test('freePort picks the lowest free ephemeral port', (t) => {
  const taken: PortRecord[] = [{ containerId: 'x', address: '10.89.0.9', hostPort: 32768, containerPort: 1, protocol: 'tcp' }];
  const l: Listener[] = [{ protocol: 'tcp', address: '127.0.0.1', port: 32769, inode: 1 }];
  t.is(freePort({ hostPort: 0, containerPort: 80, protocol: 'tcp' }, taken, l), 32770);
  t.is(freePort({ hostPort: 0, containerPort: 80, protocol: 'udp' }, taken, l), 32768);
  t.is(freePort({ hostIp: '127.0.0.2', hostPort: 0, containerPort: 80, protocol: 'tcp' }, [], l), 32768);
  const all: Listener[] = [{ protocol: 'tcp', address: '0.0.0.0', port: 0, inode: 1 }];
  const full = Array.from({ length: 60999 - 32768 + 1 }, (_, i) => ({ protocol: 'tcp' as const, address: '0.0.0.0', port: 32768 + i, inode: i }));
  t.throws(() => freePort({ hostPort: 0, containerPort: 80, protocol: 'tcp' }, [], [...all, ...full]), { instanceOf: TsstackError, message: /no free host port left for 80\/tcp/ });
});
