// The command: determinism, warnings with lines, --strict, -o DIR, through main() with the real loader.
import test from 'ava';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../src/cli/main.js';
import type { Io } from '../../../src/cli/context.js';

const STACK = `name: demo
services:
  web:
    image: nginx
    ports: ["8080:80"]
    ulimits:
      nofile: 1024
    depends_on:
      db: { condition: service_healthy }
  db:
    image: postgres
    volumes: [data:/var/lib/postgresql/data]
    healthcheck: { test: ["CMD", "pg_isready"] }
volumes: { data: {} }
`;

function setup(t: { teardown: (f: () => void) => void }, text = STACK) {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-k8s-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'stack.yaml'), text);
  const run = async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const io: Io = { out: (s) => out.push(s), err: (s) => err.push(s), tty: false, env: { TSSTACK_NO_CACHE: '1', TSSTACK_ROOT: join(dir, 'root') }, cwd: dir } as Io;
    const code = await main(['-f', 'stack.yaml', ...argv], io);
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  return { dir, run };
}

test('two renders are byte-equal and objects come in apply order', async (t) => {
  const { run } = setup(t);
  const a = await run('render', 'kubernetes', '--namespace', 'ns1');
  const b = await run('render', 'kubernetes', '--namespace', 'ns1');
  t.is(a.code, 0, a.err);
  t.is(a.out, b.out);
  const kinds = [...a.out.matchAll(/^kind: (\w+)$/gm)].map((m) => m[1]);
  t.deepEqual(kinds, ['ServiceAccount', 'Role', 'RoleBinding', 'PersistentVolumeClaim', 'Service', 'Service', 'NetworkPolicy', 'StatefulSet', 'Deployment']);
  t.true(a.out.split('\n---\n').every((doc) => /namespace: ns1/.test(doc)));
  t.false(/\d{4}-\d\d-\d\dT/.test(a.out));
});

test('every key without a faithful mapping is a warning with file, line and key; --strict makes them an error (exit 2)', async (t) => {
  const { run, dir } = setup(t);
  const a = await run('render', 'kubernetes');
  t.is(a.code, 0);
  t.regex(a.err, new RegExp(`warning: ${join(dir, 'stack.yaml')}:5: services\\.web\\.ports\\[0\\]: port 8080:80 is published`));
  t.regex(a.err, new RegExp(`warning: ${join(dir, 'stack.yaml')}:6: services\\.web\\.ulimits: ulimits is not rendered`));
  const s = await run('render', 'kubernetes', '--strict');
  t.is(s.code, 2);
  t.is(s.out, '');
  t.regex(s.err, /stack keys have no faithful Kubernetes form \(--strict\)/);
  t.regex(s.err, /stack\.yaml:6: services\.web\.ulimits/);
});

test('a stack with nothing to warn about passes --strict', async (t) => {
  const { run } = setup(t, 'name: q\nservices:\n  a:\n    image: x\n');
  const r = await run('render', 'kubernetes', '--strict');
  t.is(r.code, 0, r.err);
  t.regex(r.out, /kind: Deployment/);
});

test('-o DIR writes one file per object and a re-render removes the files of objects that left (only its own)', async (t) => {
  const { run, dir } = setup(t);
  const out = join(dir, 'k8s');
  t.is((await run('render', 'kubernetes', '-o', 'k8s')).code, 0);
  const first = readdirSync(out).sort();
  t.deepEqual(first, ['00-serviceaccount-demo-wait.yaml', '01-role-demo-wait.yaml', '02-rolebinding-demo-wait.yaml', '05-persistentvolumeclaim-data.yaml', '06-service-db.yaml', '06-service-web.yaml', '07-networkpolicy-demo-net-default.yaml', '09-statefulset-db.yaml', '10-deployment-web.yaml']);
  t.regex(readFileSync(join(out, '10-deployment-web.yaml'), 'utf8'), /^# rendered by tsstack render kubernetes\napiVersion: apps\/v1\nkind: Deployment\n/);
  writeFileSync(join(out, 'mine.yaml'), 'kind: Keep\n');
  writeFileSync(join(dir, 'stack.yaml'), 'name: demo\nservices:\n  web:\n    image: nginx\n');
  t.is((await run('render', 'kubernetes', '-o', 'k8s')).code, 0);
  t.deepEqual(readdirSync(out).sort(), ['06-service-web.yaml', '07-networkpolicy-demo-net-default.yaml', '10-deployment-web.yaml', 'mine.yaml']);
});

test('a bad target, a bad namespace and a bad extension key are errors with exit 2', async (t) => {
  const { run } = setup(t, 'name: q\nservices:\n  a:\n    image: x\n    x-kubernetes: { workload: Pod }\n');
  t.is((await run('render', 'nomad')).code, 2);
  t.is((await run('render', 'kubernetes', '--namespace', 'Bad_NS')).code, 2);
  const e = await run('render', 'kubernetes');
  t.is(e.code, 2);
  t.regex(e.err, /stack\.yaml:5/);
  t.regex(e.err, /one of Deployment, StatefulSet, Job/);
});

test('-o DIR replaces a link planted at a file name instead of writing through it', async (t) => {
  const { run, dir } = setup(t, 'name: q\nservices:\n  a:\n    image: x\n');
  const out = join(dir, 'k8s');
  mkdirSync(out);
  writeFileSync(join(dir, 'victim'), 'precious\n');
  symlinkSync(join(dir, 'victim'), join(out, '10-deployment-a.yaml'));
  t.is((await run('render', 'kubernetes', '-o', 'k8s')).code, 0);
  t.is(readFileSync(join(dir, 'victim'), 'utf8'), 'precious\n');
  t.false(lstatSync(join(out, '10-deployment-a.yaml')).isSymbolicLink());
  t.regex(readFileSync(join(out, '10-deployment-a.yaml'), 'utf8'), /kind: Deployment/);
});
