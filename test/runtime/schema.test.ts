// The runtime-spec schemas: their own good/bad examples, and the state JSON
// each runtime prints validates.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCHEMA_DIR, haveSchemas, validators } from './_schema.js';
import { baseConfig, makeTemp, rmTemp, rt, runtimes, sharedRootfs, uniqueId, writeBundle } from './_runtime.js';
import { skipWhen } from '../helpers/skip.js';

if (!haveSchemas) {
  test.skip('runtime-spec schemas [skipped: ../shared absent]', () => {});
} else {
  for (const kind of ['config', 'state', 'features'] as const) {
    for (const expect of ['good', 'bad'] as const) {
      const dir = join(SCHEMA_DIR, 'test', kind, expect);
      for (const f of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
        test(`schema: ${kind}/${expect}/${f}`, (t) => {
          let doc: unknown;
          try { doc = JSON.parse(readFileSync(join(dir, f), 'utf8')); } catch {
            t.is(expect, 'bad', 'unparseable document in good/');
            return;
          }
          const v = validators()[kind](doc);
          t.is(v.ok, expect === 'good', v.errors);
        });
      }
    }
  }

  test('schema: the base test config validates', (t) => {
    const v = validators().config(baseConfig('/tmp/rootfs', ['true'], '/x'));
    t.true(v.ok, v.errors);
  });

  const first = runtimes()[0]!;
  skipWhen(first.skip, first.skip)('schema: tsstack-runtime features validates and lists what it implements', (t) => {
    const r = first;
    const out = rt(r, '/nonexistent-state-root', ['features']);
    t.is(out.code, 0, out.stderr);
    const doc = JSON.parse(out.stdout);
    const v = validators().features(doc);
    t.true(v.ok, v.errors);
    t.deepEqual(doc.hooks, ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop']);
    for (const o of ['ro', 'nosuid', 'nodev', 'noexec', 'rbind', 'rprivate', 'rslave']) t.true(doc.mountOptions.includes(o), o);
    t.true(doc.linux.namespaces.includes('user'), 'user namespaces (with uidMappings/gidMappings) are claimed');
    t.true(doc.linux.capabilities.includes('CAP_SYS_ADMIN'));
  });

  const base = makeTemp('tsstack-rt-schema-');
  test.after.always(() => rmTemp(base));
  for (const r of runtimes()) {
    skipWhen(r.skip, `${r.skip}`).serial(`schema: ${r.name} state output validates in created, running and stopped`, (t) => {
      const rootfs = sharedRootfs(base);
      const id = uniqueId('st');
      const stateRoot = join(base, `state-${id}`);
      const cfg = baseConfig(rootfs, ['sh', '-c', 'sleep 0.3'], `/tsstack-rt-${id}`);
      cfg.annotations = { 'org.tsstack.test': 'yes' };
      const bundle = writeBundle(join(base, id), cfg);
      t.is(rt(r, stateRoot, ['create', '--bundle', bundle, id]).code, 0);
      const seen: string[] = [];
      try {
        const check = () => {
          const s = rt(r, stateRoot, ['state', id]);
          t.is(s.code, 0, s.stderr);
          const doc = JSON.parse(s.stdout);
          const v = validators().state(doc);
          t.true(v.ok, `${doc.status}: ${v.errors}`);
          t.is(doc.id, id);
          t.is(doc.bundle, bundle);
          seen.push(doc.status);
        };
        check();
        t.is(rt(r, stateRoot, ['start', id]).code, 0);
        check();
        for (let i = 0; i < 100 && seen[seen.length - 1] !== 'stopped'; i++) {
          spawnSleep(50);
          check();
        }
      } finally {
        rt(r, stateRoot, ['delete', '--force', id]);
      }
      t.is(seen[0], 'created');
      t.is(seen[1], 'running');
      t.is(seen[seen.length - 1], 'stopped');
    });
  }
}

function spawnSleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
