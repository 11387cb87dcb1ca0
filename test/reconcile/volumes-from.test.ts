// volumes_from in the desired state: a service's binds and volumes (not tmpfs, secrets, configs) at the
// same targets, ro/rw overriding their mode, own targets winning, an implicit dependency, hashed (a
// change, also of the other service's volumes, recreates), container: references left to the engine.
import test from 'ava';
import { createSpec, desiredState } from '../../src/reconcile/desired.js';
import type { ServiceSpec, StackModel } from '../../src/model/types.js';
import { model, type SvcInput } from './_model.js';

const DB: SvcInput = {
  image: 'busybox',
  volumes: [
    { type: 'bind', source: '/srv/conf', target: '/conf', read_only: true },
    { type: 'volume', source: 'data', target: '/data' },
    { type: 'volume', target: '/anon' },
    { type: 'tmpfs', target: '/scratch' },
  ],
  tmpfs: ['/run'],
  secrets: [{ source: 's' }],
};

function app(s: SvcInput, db: SvcInput = DB) {
  const m: StackModel = model('p', { db, app: { image: 'busybox', ...s } }, {
    volumes: { data: { name: 'p_data', driver_opts: {}, labels: {} } },
    secrets: { s: { name: 'p_s', file: '/srv/s.txt' } },
  });
  const d = desiredState(m, {});
  const svcD = d.services.app!;
  return { c: svcD.containers[0]!, d: svcD, spec: createSpec('p', svcD.containers[0]!, svcD), state: d };
}

test('unset volumes_from leaves the hash as it was', (t) => {
  const base = app({});
  t.is(app({ volumes_from: [] }).c.hash, base.c.hash);
  t.false('volumes_from' in base.c.config || 'volumes_from_mounts' in base.c.config || 'volumesFrom' in base.spec);
});

test('a service\'s binds and volumes at the same targets, modes kept or overridden, own targets win', (t) => {
  const kept = app({ volumes_from: ['db'] });
  t.deepEqual(kept.spec.mounts, [
    { type: 'bind', source: '/srv/conf', target: '/conf', readOnly: true },
    { type: 'volume', source: 'p_data', target: '/data' },
    { type: 'volume', source: kept.spec.mounts[2]!.type === 'volume' ? kept.spec.mounts[2]!.source : '', target: '/anon' },
  ]);
  t.regex((kept.spec.mounts[2] as { source: string }).source, /^p_anon_db_/, 'the other service\'s anonymous volume');
  t.deepEqual(kept.d.dependsOn, { db: { condition: 'service_started', required: true } });
  t.deepEqual(app({ volumes_from: ['service:db:ro'] }).spec.mounts.map((m) => [m.target, m.readOnly]), [['/conf', true], ['/data', true], ['/anon', true]]);
  t.deepEqual(app({ volumes_from: ['db:rw'] }).spec.mounts.map((m) => [m.target, m.readOnly]), [['/conf', undefined], ['/data', undefined], ['/anon', undefined]]);
  const own = app({ volumes_from: ['db'], volumes: [{ type: 'bind', source: '/mine', target: '/data' }] });
  t.deepEqual(own.spec.mounts.map((m) => [m.target, m.type === 'tmpfs' ? '' : m.source]), [['/data', '/mine'], ['/conf', '/srv/conf'], ['/anon', (kept.spec.mounts[2] as { source: string }).source]]);
  // the borrowed anonymous volume stays the other service's (one volume, labelled with its owner)
  t.deepEqual(kept.state.volumes.filter((v) => v.name.startsWith('p_anon_')).map((v) => v.labels['tsstack.service']), ['db']);
});

test('transitively: what the other service borrows comes along (cycles end)', (t) => {
  const m = model('p', {
    a: { image: 'busybox', volumes: [{ type: 'bind', source: '/a', target: '/a' }], volumes_from: ['c'] },
    b: { image: 'busybox', volumes: [{ type: 'bind', source: '/b', target: '/b' }], volumes_from: ['a'] },
    c: { image: 'busybox', volumes_from: ['b:ro'] },
  });
  const d = desiredState(m, {});
  const c = d.services.c!;
  t.deepEqual(createSpec('p', c.containers[0]!, c).mounts.map((x) => [x.target, x.readOnly]), [['/b', true], ['/a', true]]);
});

test('hash: volumes_from and the other service\'s volumes', (t) => {
  const base = app({}).c.hash;
  const hashes = [
    app({ volumes_from: ['db'] }).c.hash,
    app({ volumes_from: ['db:ro'] }).c.hash,
    app({ volumes_from: ['container:x'] }).c.hash,
    app({ volumes_from: ['db'] }, { ...DB, volumes: [{ type: 'bind', source: '/other', target: '/conf' }] }).c.hash,
  ];
  t.is(new Set([base, ...hashes]).size, 5);
  t.is(app({ volumes_from: ['db'] }, { ...DB, tmpfs: [] }).c.hash, hashes[0], 'tmpfs of the other service does not matter');
});

test('container: references go to the engine', (t) => {
  const { spec, d } = app({ volumes_from: ['container:legacy:ro', 'container:other'] });
  t.deepEqual(spec.volumesFrom, [{ container: 'legacy', readOnly: true }, { container: 'other' }]);
  t.deepEqual(d.dependsOn, {});
});

test('a service outside the model given (as `run` passes it) is reached through its first container', (t) => {
  const m = model('p', { app: { image: 'busybox', volumes_from: ['db:ro', 'cache'] } });
  const d = desiredState(m, {});
  const a = d.services.app!;
  t.deepEqual(createSpec('p', a.containers[0]!, a).volumesFrom, [{ container: 'p-db-1', readOnly: true }, { container: 'p-cache-1' }]);
  t.false('volumes_from_containers' in app({ volumes_from: ['db'] }).c.config, 'absent when every service is in the model');
});
