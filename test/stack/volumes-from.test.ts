// volumes_from: every form accepted without a warning, malformed entries and undefined services refused
// at their line, a service disabled by profiles dropped with a warning.
import test from 'ava';
import { loadStack } from '../../src/stack/load.js';
import { parseVolumesFrom } from '../../src/stack/volumes-from.js';
import { serviceRefs } from '../../src/model/service.js';
import { project, refusedAt } from './helpers.js';

test('parseVolumesFrom: the forms and their modes', (t) => {
  t.deepEqual(parseVolumesFrom('db'), { kind: 'service', name: 'db' });
  t.deepEqual(parseVolumesFrom('db:ro'), { kind: 'service', name: 'db', readOnly: true });
  t.deepEqual(parseVolumesFrom('service:db:rw'), { kind: 'service', name: 'db', readOnly: false });
  t.deepEqual(parseVolumesFrom('container:some-c'), { kind: 'container', name: 'some-c' });
  t.deepEqual(parseVolumesFrom('container:some-c:ro'), { kind: 'container', name: 'some-c', readOnly: true });
  for (const bad of ['', 'db:rx', 'container:', 'service', 'a:ro:x', 'container:c:ro:x']) t.true('error' in parseVolumesFrom(bad), bad);
  const entries = ['db', 'service:db:ro', 'container:x', 'cache:rw'].map((e) => ({ ...(parseVolumesFrom(e) as { kind: 'service'; name: string }), written: e }));
  t.deepEqual(serviceRefs({ volumes_from: entries }).map((r) => r.service), ['db', 'db', 'cache']);
});

test('volumes_from: parsed, printed as written, no warning', async (t) => {
  const dir = project(t, {
    'compose.yaml': [
      'services:',
      '  db:',
      '    image: busybox',
      '  app:',
      '    image: busybox',
      '    volumes_from: [db, "service:db:ro", "container:legacy:rw"]',
      '',
    ].join('\n'),
  });
  const m = await loadStack({ projectDir: dir, env: {} });
  t.deepEqual(m.warnings, []);
  t.deepEqual(m.services.app!.volumes_from, [
    { kind: 'service', name: 'db', written: 'db' },
    { kind: 'service', name: 'db', readOnly: true, written: 'service:db:ro' },
    { kind: 'container', name: 'legacy', readOnly: false, written: 'container:legacy:rw' },
  ]);
  t.false('volumes_from' in m.services.db!);
});

const refused = refusedAt;

test('volumes_from: a bad mode and an undefined service are errors at the entry\'s line', async (t) => {
  await refused(t, 'services:\n  db:\n    image: busybox\n  app:\n    image: busybox\n    volumes_from:\n      - db\n      - db:rx\n', 8, /mode must be ro or rw/);
  await refused(t, 'services:\n  app:\n    image: busybox\n    volumes_from:\n      - container:x\n      - service:nope:ro\n', 6, /refers to undefined service nope/);
  await refused(t, 'services:\n  app:\n    image: busybox\n    volumes_from: [nope]\n', 4, /refers to undefined service nope/);
});

test('volumes_from: a service disabled by profiles is dropped with a warning', async (t) => {
  const dir = project(t, { 'compose.yaml': 'services:\n  db:\n    image: busybox\n    profiles: [x]\n  app:\n    image: busybox\n    volumes_from: [db]\n' });
  const m = await loadStack({ projectDir: dir, env: {} });
  t.false('volumes_from' in m.services.app!);
  t.deepEqual(m.warnings.map((w) => [w.path, w.line]), [['services.app.volumes_from[0]', 7]]);
});
