// logging, cpu_quota/cpu_period, mem_reservation, dns_opt in the desired state: what the engine is
// asked for, and that a change to any of them recreates the container (config hash), as Compose does.
import test from 'ava';
import { createSpec, desiredState, logSettings } from '../../src/reconcile/desired.js';
import { makePlan, up } from '../../src/reconcile/up.js';
import type { ServiceSpec } from '../../src/model/types.js';
import { FakeEngine } from '../fakes/engine.js';
import { model } from './_model.js';

const one = (s: Partial<ServiceSpec>) => {
  const m = model('p', { a: { image: 'busybox', ...s } });
  const d = desiredState(m, {});
  const svc = d.services.a!;
  return { c: svc.containers[0]!, spec: createSpec('p', svc.containers[0]!, svc) };
};

test('logSettings: defaults, json-file options, local defaults, none, other drivers', (t) => {
  t.deepEqual(logSettings(undefined), { driver: 'json-file' });
  t.deepEqual(logSettings({ options: { 'max-size': '1k', 'max-file': '2' } }), { driver: 'json-file', maxSize: 1024, maxFiles: 2 });
  t.deepEqual(logSettings({ driver: 'json-file', options: { 'max-size': '-1' } }), { driver: 'json-file', maxSize: 0 });
  t.deepEqual(logSettings({ driver: 'local' }), { driver: 'json-file', maxSize: 20 * 1024 * 1024, maxFiles: 5 });
  t.deepEqual(logSettings({ driver: 'local', options: { 'max-file': '2' } }), { driver: 'json-file', maxSize: 20 * 1024 * 1024, maxFiles: 2 });
  t.deepEqual(logSettings({ driver: 'none', options: { 'max-size': '1k' } }), { driver: 'none' });
  // stack/ warned about the driver; its options mean nothing to json-file
  t.deepEqual(logSettings({ driver: 'syslog', options: { 'max-size': '1k' } }), { driver: 'json-file' });
});

test('create spec: log rotation, driver none, resources and resolver options', (t) => {
  t.like(one({ logging: { options: { 'max-size': '10m', 'max-file': '3' } } }).spec, { logMaxSize: 10 * 1024 * 1024, logMaxFiles: 3 });
  const none = one({ logging: { driver: 'none' } }).spec;
  t.is(none.logDriver, 'none');
  t.false('logMaxSize' in none);
  const plain = one({}).spec;
  t.false('logDriver' in plain || 'logMaxSize' in plain || 'logMaxFiles' in plain || 'dnsOptions' in plain);
  const r = one({ cpu_quota: 50000, cpu_period: 200000, cpu_shares: 512, mem_reservation: 64 * 1024 * 1024, dns_opt: ['ndots:2', 'use-vc'] }).spec;
  t.deepEqual(r.resources, { cpuQuota: 50000, cpuPeriod: 200000, cpuShares: 512, memoryReservation: 64 * 1024 * 1024 });
  t.deepEqual(r.dnsOptions, ['ndots:2', 'use-vc']);
  // deploy.resources.reservations.memory is the long form of mem_reservation
  t.deepEqual(one({ deploy: { resources: { reservations: { memory: 1024 } } } }).spec.resources, { memoryReservation: 1024 });
});

test('the config hash changes with each key, and not when none is given', (t) => {
  const base = one({}).c.hash;
  const variants: Partial<ServiceSpec>[] = [
    { logging: { driver: 'none' } },
    { logging: { options: { 'max-size': '1k' } } },
    { logging: { options: { 'max-size': '2k' } } },
    { logging: { driver: 'syslog' } },
    { logging: { driver: 'fluentd' } },
    { cpu_quota: 50000 },
    { cpu_period: 50000 },
    { mem_reservation: 1 << 20 },
    { dns_opt: ['ndots:1'] },
  ];
  const hashes = variants.map((v) => one(v).c.hash);
  t.is(new Set([base, ...hashes]).size, variants.length + 1);
  t.is(one({ logging: {} }).c.hash, base, 'an empty logging: changes nothing');
  t.is(one({ dns_opt: [] }).c.hash, base);
});

test('changing logging or a resource recreates the container and names the field', async (t) => {
  const e = new FakeEngine();
  e.addImage('busybox', { Cmd: ['sh'], Env: ['PATH=/bin'] });
  const m1 = model('demo', { a: { image: 'busybox', logging: { options: { 'max-size': '1m' } }, mem_reservation: 1 << 20 } });
  const r = await up(e, m1, { pollMs: 1 });
  t.deepEqual(r.result.failed, []);
  t.true((await makePlan(e, m1)).plan.empty, 'unchanged: no-op');
  const m2 = model('demo', { a: { image: 'busybox', logging: { options: { 'max-size': '2m' } }, mem_reservation: 1 << 20 } });
  t.regex((await makePlan(e, m2)).plan.toString(), /^recreate service:a:1 \(changed: logging/);
  const m3 = model('demo', { a: { image: 'busybox', logging: { options: { 'max-size': '1m' } }, mem_reservation: 2 << 20 } });
  t.regex((await makePlan(e, m3)).plan.toString(), /^recreate service:a:1 \(changed: resources/);
});
