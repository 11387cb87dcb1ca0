// The pure decisions of deploy --to kubernetes: diff, prune selection, apply order, error mapping, readiness.
import test from 'ava';
import { ApiException } from '@kubernetes/client-node';
import { applyOrder, diffObjects, formatPlan, planObject, pruneSelection } from '../../../src/deploy/kubernetes/apply-plan.js';
import { clusterError } from '../../../src/deploy/kubernetes/cluster-errors.js';
import { readiness } from '../../../src/deploy/kubernetes/rollout.js';
import type { K8sObject } from '../../../src/deploy/kubernetes/types.js';
import { loadText } from './_load.js';
import { renderKubernetes } from '../../../src/deploy/kubernetes/render.js';

const mine = { 'tsstack.project': 'p', 'app.kubernetes.io/managed-by': 'tsstack' };
const obj = (kind: string, name: string, extra: Record<string, any> = {}): K8sObject => ({
  apiVersion: kind === 'Deployment' ? 'apps/v1' : 'v1', kind, metadata: { name, namespace: 'ns', labels: mine, ...extra.metadata }, ...extra.body,
});

test('the diff ignores the server\'s bookkeeping and status, names list items by their name, and masks Secret values', (t) => {
  const live: any = {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name: 'web', resourceVersion: '1', uid: 'a', generation: 1, creationTimestamp: 'x', managedFields: [{ manager: 'tsstack' }], annotations: { 'deployment.kubernetes.io/revision': '1' } },
    spec: { replicas: 1, template: { spec: { containers: [{ name: 'web', image: 'a', env: [{ name: 'A', value: '1' }] }, { name: 'side', image: 's' }] } } },
    status: { availableReplicas: 1 },
  };
  const next: any = structuredClone(live);
  Object.assign(next.metadata, { resourceVersion: '2', generation: 2, managedFields: [{ manager: 'tsstack', time: 'now' }], annotations: { 'deployment.kubernetes.io/revision': '2' } });
  next.status = { availableReplicas: 0 };
  t.deepEqual(diffObjects(live, next), []);
  next.spec.replicas = 3;
  next.spec.template.spec.containers.reverse(); // reordered, not changed
  next.spec.template.spec.containers[1].image = 'b';
  next.spec.template.spec.containers[1].env.push({ name: 'B', value: '2' });
  t.deepEqual(diffObjects(live, next), [
    { path: 'spec.replicas', op: 'change', from: 1, to: 3 },
    { path: 'spec.template.spec.containers[web].env[B]', op: 'add', to: { name: 'B', value: '2' } },
    { path: 'spec.template.spec.containers[web].image', op: 'change', from: 'a', to: 'b' },
  ]);
  const s1: any = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { PW: 'aHVudGVyMg==' } };
  const s2: any = { ...s1, data: { PW: 'aHVudGVyMw==', NEW: 'eA==' } };
  const changes = diffObjects(s1, s2);
  t.deepEqual(changes, [{ path: 'data.NEW', op: 'add', to: '(secret)' }, { path: 'data.PW', op: 'change', from: '(secret)', to: '(secret)' }]);
  t.false(formatPlan([planObject(s2, s1, s2)]).join('\n').includes('aHVudGVy'));
});

test('planObject: no live object is a create, no change is unchanged; the plan prints like tsstack plan', (t) => {
  const d = obj('Deployment', 'web', { body: { spec: { replicas: 1 } } });
  t.is(planObject(d, undefined, d).action, 'create');
  t.is(planObject(d, d, structuredClone(d)).action, 'unchanged');
  const up = planObject(d, d, { ...d, spec: { replicas: 2 } });
  t.deepEqual(formatPlan([up, { action: 'prune', object: 'ConfigMap/old', changes: [] }]), [
    'update Deployment/web (1 field)',
    '    ~ spec.replicas: 1 → 2',
    'prune ConfigMap/old (no longer in the stack)',
  ]);
});

test('prune selects only objects with both project labels, of a kind tsstack renders, owned by no controller, not rendered', (t) => {
  const rendered = [obj('Deployment', 'web'), obj('ConfigMap', 'keep')];
  const live = [
    obj('Deployment', 'web'),
    obj('ConfigMap', 'keep'),
    obj('ConfigMap', 'gone'),
    obj('Deployment', 'old'),
    obj('ConfigMap', 'foreign', { metadata: { labels: { 'tsstack.project': 'p' } } }),
    obj('ConfigMap', 'other', { metadata: { labels: { ...mine, 'tsstack.project': 'q' } } }),
    obj('ConfigMap', 'owned', { metadata: { ownerReferences: [{ kind: 'X' }] } }),
    obj('Pod', 'web-1'),
    { ...obj('ReplicaSet', 'web-1'), apiVersion: 'apps/v1' },
    { ...obj('Deployment', 'web'), apiVersion: 'extensions/v1beta1' }, // another group: not ours by kind
  ];
  t.deepEqual(pruneSelection('p', rendered, live).map((o) => `${o.kind}/${o.metadata.name}`), ['Deployment/old', 'ConfigMap/gone']);
  // --rm: everything of the project, workloads first
  t.deepEqual(pruneSelection('p', [], live).map((o) => `${o.kind}/${o.metadata.name}`), ['Deployment/old', 'Deployment/web', 'ConfigMap/gone', 'ConfigMap/keep']);
});

test('apply order: config first in render order, then workloads so each comes after what it depends on', async (t) => {
  const { model } = await loadText(`
name: p
services:
  a: { image: x, depends_on: { m: { condition: service_completed_successfully }, z: { condition: service_started } } }
  m: { image: x, depends_on: [z] }
  z: { image: x, volumes: [d:/d] }
  b: { image: x }
volumes: { d: {} }
`, t.teardown);
  const { objects } = renderKubernetes(model);
  const order = applyOrder(objects, model).map((o) => `${o.kind}/${o.metadata.name}`);
  t.deepEqual(order.slice(-4), ['StatefulSet/z', 'Job/m', 'Deployment/a', 'Deployment/b']); // a's chain first (by name), each after its dependencies
  const firstWorkload = order.findIndex((o) => /^(Job|StatefulSet|Deployment)\//.test(o));
  t.true(order.slice(0, firstWorkload).every((o) => !/^(Job|StatefulSet|Deployment)\//.test(o)));
  t.is(order.length, objects.length);
});

test('error mapping: 409 field conflict → CONFLICT naming manager and field; namespace 404 → NOT_FOUND; 401/403/network/TLS → REMOTE with a hint', (t) => {
  const w = { server: 'https://k:6443', context: 'prod', namespace: 'ns', object: 'Deployment/web', applied: ['Service/web'] };
  const conflict = clusterError(new ApiException(409, 'x', { kind: 'Status', reason: 'Conflict', message: 'Apply failed with 2 conflicts', details: { causes: [
    { reason: 'FieldManagerConflict', message: 'conflict with "helm" using apps/v1', field: '.spec.replicas' },
    { reason: 'FieldManagerConflict', message: 'conflict with "helm" using apps/v1', field: '.spec.template.spec.containers[name="web"].image' },
  ] } }, {}), w);
  t.is(conflict.code, 'CONFLICT');
  t.is(conflict.message, 'Deployment/web: 2 fields are owned by field manager "helm", not tsstack');
  t.deepEqual(conflict.details, ['.spec.replicas: conflict with "helm" using apps/v1', '.spec.template.spec.containers[name="web"].image: conflict with "helm" using apps/v1', 'applied before the failure: Service/web']);
  const ns = clusterError(new ApiException(404, 'x', JSON.stringify({ kind: 'Status', reason: 'NotFound', message: 'namespaces "ns" not found', details: { name: 'ns', kind: 'namespaces' } }), {}), w);
  t.is(ns.code, 'NOT_FOUND');
  t.regex(ns.hint!, /kubectl create namespace ns/);
  const e401 = clusterError(new ApiException(401, 'x', { message: 'Unauthorized' }, {}), w);
  t.is(e401.code, 'REMOTE');
  t.regex(e401.message, /refused the credentials of context prod/);
  t.is(clusterError(new ApiException(403, 'x', { message: 'no' }, {}), w).code, 'REMOTE');
  const refused = clusterError(Object.assign(new Error('request to https://k:6443/api/v1 failed, reason: connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), w);
  t.is(refused.code, 'REMOTE');
  t.regex(refused.message, /cannot reach the Kubernetes API server at https:\/\/k:6443 \(context prod\): ECONNREFUSED/);
  const tls = clusterError(Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), w);
  t.is(tls.code, 'REMOTE');
  t.regex(tls.message, /TLS with the API server at https:\/\/k:6443 failed/);
  t.regex(tls.hint!, /certificate-authority-data/);
  const other = clusterError(new ApiException(422, 'x', { reason: 'Invalid', message: 'spec.replicas: Invalid value' }, {}), w);
  t.is(other.code, 'REMOTE');
  t.regex(other.message, /refused the request \(422 Invalid\): spec\.replicas: Invalid value/);
});

test('readiness: as kubectl rollout status judges it', (t) => {
  const d = (status: any, generation = 2) => readiness({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'w', generation } as any, spec: { replicas: 2 }, status } as any);
  t.false(d({ observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 }).ready);
  t.is(d({ observedGeneration: 2, replicas: 3, updatedReplicas: 2, availableReplicas: 2 }).waiting, '1 old replicas still running');
  t.true(d({ observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2 }).ready);
  t.regex(d({ observedGeneration: 2, conditions: [{ type: 'Progressing', reason: 'ProgressDeadlineExceeded', message: 'x' }] }).failed!, /stalled/);
  const s = (status: any) => readiness({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 's' }, spec: { replicas: 1 }, status } as any);
  t.false(s({ readyReplicas: 0 }).ready);
  t.true(s({ readyReplicas: 1, currentRevision: 'a', updateRevision: 'a' }).ready);
  const j = (status: any) => readiness({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' }, spec: {}, status } as any);
  t.false(j({ active: 1 }).ready);
  t.true(j({ conditions: [{ type: 'Complete', status: 'True' }] }).ready);
  t.truthy(j({ conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }] }).failed);
});
