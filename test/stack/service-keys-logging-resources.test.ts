// logging, cpu_quota/cpu_period, mem_reservation, dns_opt: stack file → model, with line-numbered
// warnings for what tsstack does not apply and SPEC errors naming the line for bad values.
import test from 'ava';
import { loadStack } from '../../src/stack/load.js';
import { renderStack } from '../../src/stack/render.js';
import { isTsstackError, type TsstackError } from '../../src/util/errors.js';
import { project } from './helpers.js';

const load = (t: import('ava').ExecutionContext, yaml: string) => loadStack({ projectDir: project(t, { 'compose.yaml': yaml }), env: {} });
const warnings = (m: Awaited<ReturnType<typeof loadStack>>) => m.warnings.map((w) => [w.path, w.line, w.message]);

async function specError(t: import('ava').ExecutionContext, yaml: string): Promise<TsstackError> {
  const e = await t.throwsAsync(load(t, yaml));
  if (!isTsstackError(e)) throw new Error(`expected a TsstackError, got ${String(e)}`);
  t.is(e.code, 'SPEC');
  return e;
}

test('logging json-file with max-size/max-file is kept as written, without warnings', async (t) => {
  const m = await load(t, 'services:\n  a:\n    image: a\n    logging:\n      driver: json-file\n      options:\n        max-size: 10m\n        max-file: 3\n');
  t.deepEqual(m.services.a!.logging, { driver: 'json-file', options: { 'max-size': '10m', 'max-file': '3' } });
  t.deepEqual(m.warnings, []);
  const printed = renderStack(m, 'yaml');
  t.regex(printed, /logging:\n\s+driver: json-file\n\s+options:\n\s+max-file: "3"\n\s+max-size: 10m/);
});

test('logging without a driver, driver local and driver none are supported', async (t) => {
  const m = await load(t, 'services:\n  a:\n    image: a\n    logging: { options: { max-size: 1k } }\n  b:\n    image: b\n    logging: { driver: local }\n  c:\n    image: c\n    logging: { driver: none }\n');
  t.deepEqual(m.services.a!.logging, { options: { 'max-size': '1k' } });
  t.deepEqual(m.services.b!.logging, { driver: 'local' });
  t.deepEqual(m.services.c!.logging, { driver: 'none' });
  t.deepEqual(m.warnings, []);
});

test('another logging driver is a warning naming it and its line; its options are kept, not checked', async (t) => {
  const m = await load(t, 'services:\n  a:\n    image: a\n    logging:\n      driver: syslog\n      options:\n        syslog-address: "tcp://192.168.0.42:123"\n');
  t.deepEqual(warnings(m), [['services.a.logging.driver', 5, 'logging driver syslog is not supported by tsstack; json-file is used']]);
  t.deepEqual(m.services.a!.logging, { driver: 'syslog', options: { 'syslog-address': 'tcp://192.168.0.42:123' } });
});

test('an unknown json-file option is a warning at its line', async (t) => {
  const m = await load(t, 'services:\n  a:\n    image: a\n    logging:\n      options:\n        max-size: 1m\n        compress: "true"\n');
  t.deepEqual(warnings(m), [['services.a.logging.options.compress', 7, 'logging option compress is not supported by tsstack yet; ignored']]);
});

test('bad max-size and max-file are SPEC errors naming file and line', async (t) => {
  const e1 = await specError(t, 'services:\n  a:\n    image: a\n    logging:\n      options:\n        max-size: lots\n');
  t.is(e1.location?.line, 6);
  t.is(e1.location?.path, 'services.a.logging.options.max-size');
  t.truthy(e1.hint);
  const e2 = await specError(t, 'services:\n  a:\n    image: a\n    logging:\n      options:\n        max-file: 0\n');
  t.is(e2.location?.line, 6);
  t.regex(e2.message, /max-file must be an integer of at least 1, got "0"/);
});

test('cpu_quota, cpu_period, cpu_shares, mem_reservation, dns_opt are read without warnings', async (t) => {
  const m = await load(t, 'services:\n  a:\n    image: a\n    cpu_quota: 50000\n    cpu_period: "100000"\n    cpu_shares: 512\n    mem_reservation: 256m\n    dns_opt: [use-vc, "ndots:2"]\n');
  const a = m.services.a!;
  t.is(a.cpu_quota, 50000);
  t.is(a.cpu_period, 100000);
  t.is(a.cpu_shares, 512);
  t.is(a.mem_reservation, 256 * 1024 * 1024);
  t.deepEqual(a.dns_opt, ['use-vc', 'ndots:2']);
  t.deepEqual(m.warnings, []);
});

test('cpu_quota together with cpus warns that the quota wins', async (t) => {
  const m = await load(t, 'services:\n  a:\n    image: a\n    cpus: 1.5\n    cpu_quota: 50000\n');
  t.deepEqual(warnings(m), [['services.a.cpu_quota', 5, 'cpu_quota and cpus are both set: cpu_quota/cpu_period are used']]);
});

test('out-of-range cpu_period/cpu_quota and a bad mem_reservation or dns_opt are SPEC errors at their line', async (t) => {
  const p = await specError(t, 'services:\n  a:\n    image: a\n    cpu_period: 500\n');
  t.is(p.location?.line, 4);
  t.regex(p.message, /cpu_period must be between 1000 and 1000000/);
  const q = await specError(t, 'services:\n  a:\n    image: a\n    cpu_quota: 10\n');
  t.is(q.location?.path, 'services.a.cpu_quota');
  const r = await specError(t, 'services:\n  a:\n    image: a\n    mem_reservation: much\n');
  t.is(r.location?.line, 4);
  const d = await specError(t, 'services:\n  a:\n    image: a\n    dns_opt: ["ndots:2 use-vc"]\n');
  t.is(d.location?.path, 'services.a.dns_opt[0]');
});

test('keys still unsupported keep their line-numbered warning next to supported ones', async (t) => {
  const m = await load(t, 'services:\n  a:\n    image: a\n    mem_reservation: 1g\n    cpu_rt_runtime: 95000\n');
  t.deepEqual(warnings(m), [['services.a.cpu_rt_runtime', 5, 'cpu_rt_runtime is not supported by tsstack yet; ignored']]);
});
