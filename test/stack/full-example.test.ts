// compose-go/loader/full-example.yml → derived/full-example/expected.yaml, attribute by attribute.
// compose-go's model keeps every Compose key; ours keeps the keys tsstack implements and warns
// about the rest. So each expected attribute is either compared (after mapping compose-go's
// representation to ours: durations → ms, sizes → bytes, octal strings → numbers) or, for keys
// tsstack does not implement, checked to have produced a warning naming it.
import { readFileSync } from 'node:fs';
import test from 'ava';
import { parse } from 'yaml';
import { loadStack } from '../../src/stack/load.js';
import { parseBytes, parseDuration } from '../../src/model/units.js';
import { parsePublished } from '../../src/stack/ports.js';
import type { ServiceSpec, StackModel } from '../../src/model/types.js';
import { asWritten } from '../../src/stack/render.js';
import { conformancePath, deepEqual, haveConformance, Tally, type KnownFailures } from './conformance.js';

type Obj = Record<string, any>;
const HOME = '/home/tsstack-test';

const KNOWN: KnownFailures = {};

const tally = new Tally('full-example');

/** compose-go representation → ours, for one service attribute. */
function expectedService(key: string, v: any): any {
  const dur = (x: any) => (x === undefined ? undefined : parseDuration(x));
  const stripUndef = (o: Obj) => Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined));
  switch (key) {
    case 'healthcheck':
      return stripUndef({ ...v, interval: dur(v.interval), timeout: dur(v.timeout), start_period: dur(v.start_period), start_interval: dur(v.start_interval) });
    case 'stop_grace_period':
      return dur(v);
    case 'ports':
      return (v as Obj[]).map((p) => (p.published === undefined ? p : { ...p, published: parsePublished(String(p.published)) }));
    case 'deploy': {
      const d: Obj = { mode: v.mode, replicas: v.replicas, labels: v.labels };
      const lim = (r: Obj | undefined) => r && stripUndef({ cpus: r.cpus, memory: r.memory === undefined ? undefined : parseBytes(r.memory), pids: r.pids });
      d.resources = stripUndef({ limits: lim(v.resources?.limits), reservations: lim(v.resources?.reservations) });
      const rp = v.restart_policy;
      d.restart_policy = stripUndef({ ...rp, delay: dur(rp.delay), window: dur(rp.window) });
      const uc = v.update_config;
      if (uc) d.update_config = stripUndef({ ...uc, delay: dur(uc.delay), monitor: dur(uc.monitor) });
      const rc = v.rollback_config;
      if (rc) d.rollback_config = stripUndef({ ...rc, delay: dur(rc.delay), monitor: dur(rc.monitor) });
      if (v.endpoint_mode) d.endpoint_mode = v.endpoint_mode;
      if (v.placement) d.placement = v.placement;
      return stripUndef(d);
    }
    case 'ulimits':
      return Object.fromEntries(Object.entries(v as Obj).map(([k, u]) => [k, typeof u === 'number' ? { soft: u, hard: u } : u]));
    case 'secrets':
    case 'configs':
      return (v as Obj[]).map((r) => stripUndef({ ...r, mode: r.mode === undefined ? undefined : parseInt(r.mode, 8) }));
    case 'networks':
      return Object.fromEntries(Object.entries(v as Obj).map(([k, a]) => [k, a === null ? {} : Object.fromEntries(Object.entries(a).filter(([x]) => x !== 'mac_address'))]));
    case 'volumes':
      return (v as Obj[]).map((m) => {
        const out: Obj = { ...m };
        delete out.consistency;
        for (const sub of ['bind', 'volume']) if (out[sub] && Object.keys(out[sub]).length === 0) delete out[sub];
        if (out.tmpfs?.size !== undefined) out.tmpfs = { ...out.tmpfs, size: parseBytes(out.tmpfs.size) };
        return out;
      });
    case 'build': {
      const b: Obj = { context: v.context, args: v.args ?? {}, labels: v.labels ?? {}, tags: v.tags ?? [] };
      for (const k of ['dockerfile', 'dockerfile_inline', 'target', 'network', 'no_cache']) if (v[k] !== undefined) b[k] = v[k];
      if (b.dockerfile === undefined && b.dockerfile_inline === undefined) b.dockerfile = 'Dockerfile';
      return b;
    }
    default:
      return v;
  }
}

/** Keys our model holds parsed and compose-go as written: compared as `config` prints them. */
const PARSED = new Set(['tmpfs', 'links', 'network_mode', 'pid', 'ipc', 'security_opt', 'volumes_from', 'device_cgroup_rules']);

/** Ours, for comparison: drop `create_host_path` (compose-go's final model leaves it unset for short syntax). */
function actualService(key: string, v: any, s: ServiceSpec): any {
  if (PARSED.has(key)) return asWritten(s)[key];
  if (key === 'volumes') {
    return (v as Obj[]).map((m) => {
      const out: Obj = { ...m };
      if (out.bind) {
        const { create_host_path: _c, ...rest } = out.bind;
        if (Object.keys(rest).length) out.bind = rest;
        else delete out.bind;
      }
      return out;
    });
  }
  return v;
}

/** Keys of a service present in compose-go's model that tsstack reads into other places. */
const FOLDED = new Set(['env_file', 'label_file']);

if (!haveConformance) {
  test.skip('full example [skipped: ../shared absent]', () => {});
} else {
  const dir = conformancePath('compose-go/loader');
  const text = readFileSync(conformancePath('compose-go/derived/full-example/expected.yaml'), 'utf8').replaceAll('/__WORKING_DIR__', dir).replaceAll('/__HOME_DIR__', HOME);
  const expected = parse(text) as Obj;
  let model: StackModel | undefined;
  const load = async () =>
    (model ??= await loadStack({
      files: [`${dir}/full-example.yml`],
      env: { HOME, BAR: 'this is a secret', QUX: 'qux_from_environment' },
      skipConsistencyCheck: true,
    }));

  test('full example: project name', async (t) => {
    const m = await load();
    t.is(m.name, expected.name);
  });

  for (const [svcName, svc] of Object.entries(expected.services as Obj)) {
    for (const [key, value] of Object.entries(svc as Obj)) {
      const id = `services.${svcName}.${key}`;
      test(`full example ${id}`, async (t) => {
        const m = await load();
        const s = m.services[svcName] as unknown as Obj;
        let ok: boolean;
        let detail: string;
        if (FOLDED.has(key)) {
          ok = true;
          detail = 'folded into environment';
        } else if (key.startsWith('x-')) {
          ok = deepEqual(s.extensions[key], value);
          detail = JSON.stringify(s.extensions[key]);
        } else if (key in s && s[key] !== undefined) {
          const want = expectedService(key, value);
          const got = actualService(key, s[key], s as unknown as ServiceSpec);
          ok = deepEqual(got, want);
          detail = `got ${JSON.stringify(got)}\nwant ${JSON.stringify(want)}`;
        } else {
          ok = m.warnings.some((w) => w.path === id);
          detail = ok ? 'warned' : 'neither in the model nor warned about';
        }
        tally.record(id, ok, KNOWN[id]);
        if (KNOWN[id]) t.false(ok, `known failure now passes: ${id}`);
        else t.true(ok, `${id}: ${detail}`);
      });
    }
  }

  for (const section of ['networks', 'volumes', 'secrets', 'configs'] as const) {
    for (const [key, value] of Object.entries((expected[section] ?? {}) as Obj)) {
      const id = `${section}.${key}`;
      test(`full example ${id}`, async (t) => {
        const m = await load();
        const got = (m[section] as Obj)[key] as Obj | undefined;
        const want: Obj = Object.fromEntries(Object.entries(value ?? {}).filter(([k]) => !k.startsWith('x-')));
        let ok = got !== undefined;
        const problems: string[] = [];
        for (const [k, v] of Object.entries(want)) {
          if (['labels', 'driver', 'driver_opts', 'template_driver'].includes(k) && (section === 'secrets' || section === 'configs')) {
            if (!m.warnings.some((w) => w.path === `${id}.${k}`)) problems.push(`${k} not warned`);
            continue;
          }
          const g = got?.[k];
          const w = k === 'ipam' ? { driver: v.driver, config: v.config.map((c: Obj) => Object.fromEntries(Object.entries(c).filter(([x]) => x !== 'aux_addresses'))) } : v;
          if (!deepEqual(g, w)) problems.push(`${k}: got ${JSON.stringify(g)} want ${JSON.stringify(w)}`);
        }
        ok &&= problems.length === 0;
        tally.record(id, ok, KNOWN[id]);
        if (KNOWN[id]) t.false(ok, `known failure now passes: ${id}`);
        else t.true(ok, `${id}: ${problems.join('; ')}`);
      });
    }
  }

  test('full example: top-level x- extensions', async (t) => {
    const m = await load();
    const want = Object.fromEntries(Object.entries(expected).filter(([k]) => k.startsWith('x-')));
    t.deepEqual(m.extensions, want);
  });

  test.after.always(() => console.log(tally.summary()));
}
