// deploy --to kubernetes through main() and the real @kubernetes/client-node, against the fake API
// server of _fake-api.ts on 127.0.0.1 (a real HTTP exchange; no cluster can run on this machine).
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../src/cli/main.js';
import type { Io } from '../../../src/cli/context.js';
import { Cluster } from '../../../src/deploy/kubernetes/cluster.js';
import { waitRollout } from '../../../src/deploy/kubernetes/deploy.js';
import { startFakeApi, type FakeApi } from './_fake-api.js';

const STACK = `name: shop
services:
  api:
    image: registry.example/api:1
    depends_on: { zdb: { condition: service_healthy } }
    ports: ["8080"]
    environment: { MODE: prod }
  zdb:
    image: postgres:16
    healthcheck: { test: ["CMD", "pg_isready"] }
    volumes: [data:/var/lib/postgresql/data]
volumes: { data: {} }
`;

async function setup(t: { teardown: (f: () => void | Promise<void>) => void }, text = STACK) {
  const fake = await startFakeApi(t.teardown);
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-k8s-deploy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const write = (s: string) => writeFileSync(join(dir, 'stack.yaml'), s);
  write(text);
  const run = async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const io: Io = { out: (s) => out.push(s), err: (s) => err.push(s), tty: false, env: { TSSTACK_NO_CACHE: '1', TSSTACK_ROOT: join(dir, 'root'), KUBECONFIG: fake.kubeconfig }, cwd: dir } as Io;
    const code = await main(['-f', 'stack.yaml', 'deploy', '--to', 'kubernetes', ...argv], io);
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  return { fake, run, write };
}

const patches = (f: FakeApi) => f.requests.filter((r) => r.method === 'PATCH');
const writes = (f: FakeApi) => f.requests.filter((r) => r.method === 'DELETE' || (r.method === 'PATCH' && r.query.dryRun !== 'All'));
const objName = (r: { path: string }) => r.path.split('/').slice(-2).join('/');

test('deploy applies every object by server-side apply (field manager tsstack, not forced), config first, then workloads in depends_on order', async (t) => {
  const { fake, run } = await setup(t);
  const r = await run();
  t.is(r.code, 0, r.err);
  const p = patches(fake);
  t.true(p.length > 0);
  for (const q of p) {
    t.is(q.contentType, 'application/apply-patch+yaml');
    t.deepEqual(q.query, { fieldManager: 'tsstack', force: 'false' });
    t.true(q.path.includes('/namespaces/ns1/'), q.path); // the context's namespace
  }
  t.deepEqual(p.map(objName), [
    'serviceaccounts/shop-wait', 'roles/shop-wait', 'rolebindings/shop-wait', 'persistentvolumeclaims/data',
    'services/api', 'services/zdb', 'networkpolicies/shop-net-default',
    // zdb before api: api waits for it (alphabetical order would be the other way)
    'statefulsets/zdb', 'deployments/api',
  ]);
  // the body is the rendered object, every field of it, namespaced
  const dep = p.find((q) => objName(q) === 'deployments/api')!.body!;
  t.is(dep.metadata.namespace, 'ns1');
  t.is(dep.metadata.labels['tsstack.project'], 'shop');
  t.is(dep.spec.template.spec.initContainers[0].name, 'wait-zdb');
  t.regex(r.err, /applied StatefulSet\/zdb\n(.*\n)*applied Deployment\/api/);
  t.regex(r.err, /deployed shop to namespace ns1 \(context fake\)/);
});

test('deploy prunes the project\'s objects that left the stack, and nothing else of the namespace', async (t) => {
  const { fake, run, write } = await setup(t);
  t.is((await run()).code, 0);
  const mine = { 'tsstack.project': 'shop', 'app.kubernetes.io/managed-by': 'tsstack' };
  fake.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'foreign', namespace: 'ns1' } });
  fake.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'other-project', namespace: 'ns1', labels: { ...mine, 'tsstack.project': 'other' } } });
  fake.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'hand-labelled', namespace: 'ns1', labels: { 'tsstack.project': 'shop' } } });
  fake.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owned', namespace: 'ns1', labels: mine, ownerReferences: [{ apiVersion: 'v1', kind: 'Foo', name: 'x', uid: 'u' }] } });
  fake.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'api-123', namespace: 'ns1', labels: mine } });
  fake.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'elsewhere', namespace: 'default', labels: mine } });
  write(STACK.replace(/  api:[\s\S]*?(?=  zdb:)/, '')); // api leaves the stack
  fake.requests.length = 0;
  const r = await run();
  t.is(r.code, 0, r.err);
  const deleted = fake.requests.filter((q) => q.method === 'DELETE');
  // api was the only service that waits: the wait account and its role go with it
  t.deepEqual(deleted.map(objName), ['deployments/api', 'services/api', 'rolebindings/shop-wait', 'roles/shop-wait', 'serviceaccounts/shop-wait']);
  for (const d of deleted) t.is(d.query.propagationPolicy, 'Background');
  // the lists asked the server for the project's labels only, and never for pods
  const lists = fake.requests.filter((q) => q.method === 'GET' && q.query.labelSelector !== undefined);
  t.true(lists.every((q) => q.query.labelSelector === 'tsstack.project=shop,app.kubernetes.io/managed-by=tsstack'));
  t.false(lists.some((q) => q.path.endsWith('/pods')));
  for (const n of ['foreign', 'other-project', 'hand-labelled', 'owned']) t.true(fake.store.has(`v1/ConfigMap/ns1/${n}`), n);
  t.true(fake.store.has('v1/ConfigMap/default/elsewhere'));
  t.true(fake.store.has('v1/Pod/ns1/api-123'));
  t.regex(r.err, /pruned Deployment\/api \(no longer in the stack\)/);
});

test('--plan: a dry run per object, then per-field changes, unchanged objects and prunes; nothing is written', async (t) => {
  const { fake, run, write } = await setup(t);
  t.is((await run()).code, 0);
  write(STACK.replace('registry.example/api:1', 'registry.example/api:2').replace('MODE: prod', 'MODE: prod, EXTRA: "1"').replace(/    ports: \["8080"\]\n/, '') + 'x-unused: 1\n');
  fake.requests.length = 0;
  const r = await run('--plan');
  t.is(r.code, 0, r.err);
  t.deepEqual(writes(fake), []);
  t.true(patches(fake).every((q) => q.query.dryRun === 'All'));
  const lines = r.out.split('\n');
  t.true(lines.includes('unchanged StatefulSet/zdb'), r.out);
  t.true(lines.includes('unchanged PersistentVolumeClaim/data'), r.out);
  const at = lines.indexOf(lines.find((l) => l.startsWith('update Deployment/api'))!);
  t.true(at >= 0, r.out);
  const fields = lines.slice(at + 1).filter((l) => l.startsWith('    '));
  t.true(fields.includes('    ~ spec.template.spec.containers[api].image: "registry.example/api:1" → "registry.example/api:2"'), r.out);
  t.true(fields.includes('    + spec.template.spec.containers[api].env[EXTRA]: {"name":"EXTRA","value":"1"}'), r.out);
  t.true(fields.includes('    - spec.template.spec.containers[api].ports: [{"containerPort":8080,"protocol":"TCP"}]'), r.out);
  // no server bookkeeping and no default the server filled in on both sides
  t.false(/managedFields|resourceVersion|generation|creationTimestamp|terminationMessagePath|revisionHistoryLimit/.test(r.out), r.out);
  // the api Service lost its ports: it is now headless (a changed field of an update)
  t.true(lines.some((l) => l.startsWith('update Service/api')), r.out);
  // a second plan after applying says there is nothing to do
  t.is((await run()).code, 0);
  const again = await run('--plan');
  t.is(again.out, 'no changes: shop in namespace ns1 is up to date');
});

test('--plan lists a new object as create and a removed one as prune, and never prints a Secret\'s values', async (t) => {
  const { fake, run, write } = await setup(t, STACK.replace('MODE: prod', 'MODE: prod, DB_PASSWORD: hunter2'));
  t.is((await run()).code, 0);
  write(STACK.replace('MODE: prod', 'MODE: prod, DB_PASSWORD: hunter3').replace('  zdb:', '  cache: { image: redis }\n  zdb:'));
  const r = await run('--plan');
  t.is(r.code, 0, r.err);
  t.true(r.out.split('\n').includes('create Deployment/cache'), r.out);
  t.true(r.out.includes('    ~ data.DB_PASSWORD: "(secret)" → "(secret)"'), r.out);
  t.false(/hunter|aHVudGVy/.test(r.out), r.out);
  write(STACK);
  const p = await run('--plan');
  t.true(p.out.split('\n').includes('prune Secret/api-env (no longer in the stack)'), p.out);
  t.deepEqual(writes(fake).filter((q) => q.method === 'DELETE'), []);
});

test('an object owned by another field manager: one error naming the object, field and manager, exit 4, stopping there and saying what was applied', async (t) => {
  const { fake, run } = await setup(t);
  t.is((await run()).code, 0);
  fake.conflicts.set('StatefulSet/zdb', { manager: 'kubectl-edit', field: '.spec.replicas' });
  fake.requests.length = 0;
  const r = await run();
  t.is(r.code, 4, r.err);
  t.regex(r.err, /StatefulSet\/zdb: a field is owned by field manager "kubectl-edit", not tsstack/);
  t.regex(r.err, /\.spec\.replicas/);
  t.regex(r.err, /applied before the failure: ServiceAccount\/shop-wait, .*NetworkPolicy\/shop-net-default/);
  t.false(patches(fake).some((q) => objName(q) === 'deployments/api'), 'nothing after the failure');
  t.deepEqual(fake.requests.filter((q) => q.method === 'DELETE'), []);
  const plan = await run('--plan');
  t.is(plan.code, 4);
  t.regex(plan.err, /kubectl-edit/);
});

test('a namespace that does not exist: exit 3, nothing sent but the check', async (t) => {
  const { fake, run } = await setup(t);
  const r = await run('--namespace', 'nope');
  t.is(r.code, 3, r.err);
  t.regex(r.err, /namespace "nope" does not exist in the cluster of context fake/);
  t.regex(r.err, /kubectl create namespace nope/);
  t.deepEqual(patches(fake), []);
  t.is((await run('--rm', '--namespace', 'nope')).code, 3);
});

test('an unreachable cluster, refused credentials, a refused request: exit 9 with a hint', async (t) => {
  const { fake, run } = await setup(t);
  const bad = await run('--context', 'badtoken');
  t.is(bad.code, 9, bad.err);
  t.regex(bad.err, /refused the credentials of context badtoken \(401 Unauthorized\)/);
  fake.denyPatch = 403;
  const denied = await run();
  t.is(denied.code, 9, denied.err);
  t.regex(denied.err, /ServiceAccount\/shop-wait: forbidden: .*cannot patch/);
  t.regex(denied.err, /nothing was applied/);
  const missing = await run('--context', 'nosuch');
  t.is(missing.code, 3, missing.err);
  t.regex(missing.err, /no context "nosuch" in the kubeconfig/);
  await fake.close();
  const down = await run();
  t.is(down.code, 9, down.err);
  t.regex(down.err, /cannot reach the Kubernetes API server at http:\/\/127\.0\.0\.1:\d+ \(context fake\): ECONNREFUSED/);
});

test('--strict: a key with no faithful form stops the deploy before any request (exit 2)', async (t) => {
  const { fake, run } = await setup(t, STACK.replace('    ports: ["8080"]', '    ports: ["8080"]\n    ulimits: { nofile: 1024 }'));
  const r = await run('--strict');
  t.is(r.code, 2, r.err);
  t.regex(r.err, /no faithful Kubernetes form \(--strict\)/);
  t.regex(r.err, /stack\.yaml:\d+: services\.api\.ulimits/);
  t.deepEqual(fake.requests, []);
});

test('a service built from source must name the image the cluster pulls (exit 2, nothing sent)', async (t) => {
  const { fake, run } = await setup(t, STACK.replace('    image: registry.example/api:1', '    build: .'));
  const r = await run();
  t.is(r.code, 2, r.err);
  t.regex(r.err, /api is built from source but names no image/);
  t.deepEqual(fake.requests, []);
});

test('--rm removes the project\'s objects, workloads first, and nothing else; its PersistentVolumeClaims (data) only with --volumes', async (t) => {
  const { fake, run } = await setup(t);
  t.is((await run()).code, 0);
  fake.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'foreign', namespace: 'ns1' } });
  fake.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'other', namespace: 'ns1', labels: { 'tsstack.project': 'other', 'app.kubernetes.io/managed-by': 'tsstack' } } });
  fake.requests.length = 0;
  const r = await run('--rm');
  t.is(r.code, 0, r.err);
  const deleted = fake.requests.filter((q) => q.method === 'DELETE').map(objName);
  t.deepEqual(deleted.slice(0, 2), ['deployments/api', 'statefulsets/zdb']);
  t.false(deleted.includes('persistentvolumeclaims/data'));
  t.deepEqual([...fake.store.keys()].sort(), ['v1/ConfigMap/ns1/foreign', 'v1/ConfigMap/ns1/other', 'v1/PersistentVolumeClaim/ns1/data']);
  t.regex(r.err, /kept PersistentVolumeClaim\/data \(the data of the project's volumes; --rm --volumes deletes them\)/);
  t.deepEqual(patches(fake), []);
  const gone = await run('--rm', '--volumes');
  t.is(gone.code, 0, gone.err);
  t.regex(gone.err, /removed PersistentVolumeClaim\/data/);
  t.deepEqual([...fake.store.keys()].sort(), ['v1/ConfigMap/ns1/foreign', 'v1/ConfigMap/ns1/other']);
  const again = await run('--rm');
  t.regex(again.err, /nothing of shop in namespace ns1/);
});

test('a volume that left the stack keeps its PersistentVolumeClaim: neither planned nor pruned, and said', async (t) => {
  const { fake, run, write } = await setup(t);
  t.is((await run()).code, 0);
  write(STACK.replace('    volumes: [data:/var/lib/postgresql/data]\n', '').replace('volumes: { data: {} }\n', ''));
  const plan = await run('--plan');
  t.is(plan.code, 0, plan.err);
  t.false(plan.out.includes('PersistentVolumeClaim/data'), plan.out);
  fake.requests.length = 0;
  const r = await run();
  t.is(r.code, 0, r.err);
  t.false(fake.requests.some((q) => q.method === 'DELETE' && objName(q) === 'persistentvolumeclaims/data'));
  t.true(fake.store.has('v1/PersistentVolumeClaim/ns1/data'));
  t.regex(r.err, /kept PersistentVolumeClaim\/data: no longer in the stack, but it holds data \(kubectl delete persistentvolumeclaim data removes it\)/);
});

test('--volumes without --rm --to kubernetes is a usage error (exit 2), nothing sent', async (t) => {
  const { fake, run } = await setup(t);
  const r = await run('--volumes');
  t.is(r.code, 2, r.err);
  t.regex(r.err, /--volumes goes with --rm --to kubernetes/);
  t.deepEqual(fake.requests, []);
});

test('--wait polls until Deployments are available and Jobs complete; a failed Job ends it with an error; so does the timeout', async (t) => {
  const fake = await startFakeApi(t.teardown);
  const cluster = Cluster.load(undefined, { KUBECONFIG: fake.kubeconfig });
  const target = { cluster, project: 'p', namespace: 'ns1' };
  const dep = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'ns1' }, spec: { replicas: 2 } };
  const job = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'migrate', namespace: 'ns1' }, spec: {} };
  fake.put(dep);
  fake.put(job);
  let gets = 0;
  fake.onGet = (o) => {
    gets++;
    if (o.kind === 'Deployment') o.status = gets < 4 ? { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 1 } : { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 };
    if (o.kind === 'Job') o.status = gets < 5 ? { active: 1 } : { conditions: [{ type: 'Complete', status: 'True' }] };
  };
  const said: string[] = [];
  const say = { out: (l: string) => said.push(l), err: (l: string) => said.push(l) };
  await waitRollout(target, [dep, job] as any, { timeoutMs: 10_000, pollMs: 5 }, say);
  t.true(said.includes('waiting for Deployment/web: 1 of 2 replicas available'), said.join('\n'));
  t.true(said.includes('ready Deployment/web'));
  t.true(said.includes('ready Job/migrate'));
  fake.onGet = (o) => {
    o.status = { conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }] };
  };
  const e = await t.throwsAsync(waitRollout(target, [job] as any, { timeoutMs: 10_000, pollMs: 5 }, say));
  t.regex(e!.message, /Job\/migrate: the job failed: BackoffLimitExceeded/);
  fake.onGet = (o) => {
    o.status = { observedGeneration: 1, replicas: 2, updatedReplicas: 1 };
  };
  const slow = await t.throwsAsync(waitRollout(target, [dep] as any, { timeoutMs: 30, pollMs: 5 }, say));
  t.regex(slow!.message, /not ready after 0s: Deployment\/web \(1 of 2 replicas updated\)/);
  t.is((slow as any).code, 'REMOTE');
});
