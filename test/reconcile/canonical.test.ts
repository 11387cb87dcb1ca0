import test from 'ava';
import { canonicalJson, changedFields, configHash } from '../../src/reconcile/canonical.js';
import { parseSince } from '../../src/cli/commands/inspect.js';
import { normalizeProjectName } from '../../src/model/project-name.js';
import { formatPort, statusText } from '../../src/cli/targets.js';
import type { ContainerInfo } from '../../src/engine/api.js';

test('canonical JSON sorts keys at every level and drops undefined', (t) => {
  t.is(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: undefined }], c: null } }), '{"a":{"c":null,"d":[3,{"z":1}]},"b":1}');
  t.is(configHash({ a: 1, b: 2 }), configHash({ b: 2, a: 1 }));
  t.regex(configHash({}), /^sha256:[0-9a-f]{64}$/);
  t.not(configHash({ a: [1, 2] }), configHash({ a: [2, 1] }));
});

const fields = test.macro((t, before: object, after: object, expected: string[]) => {
  t.deepEqual(changedFields(before, after, { imageId: 'image digest' }), expected);
});
test('no change', fields, { a: 1, env: { X: '1' } }, { env: { X: '1' }, a: 1 }, []);
test('map entry changed, added, removed', fields, { environment: { A: '1', B: '2' } }, { environment: { A: '9', C: '3' } }, ['environment.A', 'environment.B', 'environment.C']);
test('array element changed and appended', fields, { ports: [{ hostPort: 80 }] }, { ports: [{ hostPort: 81 }, { hostPort: 82 }] }, ['ports[0]', 'ports[1]']);
test('renamed top-level field', fields, { imageId: 'sha256:a' }, { imageId: 'sha256:b' }, ['image digest']);
test('scalar and type changes', fields, { user: 'a', command: ['x'] }, { user: 'b', command: 'x' }, ['command', 'user']);
test('field appears', fields, {}, { healthcheck: { test: ['CMD', 'true'] } }, ['healthcheck']);

test('--since takes durations and timestamps', (t) => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  t.is(parseSince('10m', now).toISOString(), '2026-01-01T11:50:00.000Z');
  t.is(parseSince('1h30m', now).toISOString(), '2026-01-01T10:30:00.000Z');
  t.is(parseSince('45s', now).toISOString(), '2026-01-01T11:59:15.000Z');
  t.is(parseSince('2026-01-01T00:00:00Z', now).toISOString(), '2026-01-01T00:00:00.000Z');
  t.throws(() => parseSince('yesterday', now), { message: /not a timestamp or duration/ });
});

test('project names are normalized like compose', (t) => {
  t.is(normalizeProjectName('My.Project_1'), 'myproject_1');
  t.is(normalizeProjectName('-_abc'), 'abc');
});

test('ps cells: status and ports', (t) => {
  const c = (p: Partial<ContainerInfo>): ContainerInfo => ({ id: 'x', name: 'n', image: 'i', imageId: 'i', labels: {}, status: 'running', created: '', restartCount: 0, addresses: {}, ports: [], ...p });
  t.is(statusText(c({ health: 'healthy' })), 'running (healthy)');
  t.is(statusText(c({ status: 'exited', exitCode: 137, oomKilled: true })), 'exited (137) oom-killed');
  t.is(formatPort({ hostPort: 8080, containerPort: 80, protocol: 'tcp' }), '0.0.0.0:8080->80/tcp');
  t.is(formatPort({ hostIp: '127.0.0.1', hostPort: 53, containerPort: 53, protocol: 'udp' }), '127.0.0.1:53->53/udp');
});
