// The decisions of `deploy --to kubernetes`, pure: in which order objects are
// applied, what a server-side dry run says would change (live object against
// dry-run result, field by field), and which live objects a deploy prunes.
// The client (cluster.ts) only carries requests; nothing here does IO.

import type { StackModel } from '../../model/types.js';
import { dnsLabel, LABEL_PROJECT, LABEL_SERVICE } from './names.js';
import type { K8sObject } from './types.js';

/** The kinds tsstack renders, and so the only kinds it lists, prunes and removes (apply order). */
export const MANAGED_KINDS: readonly { apiVersion: string; kind: string }[] = [
  { apiVersion: 'v1', kind: 'ServiceAccount' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding' },
  { apiVersion: 'v1', kind: 'Secret' },
  { apiVersion: 'v1', kind: 'ConfigMap' },
  { apiVersion: 'v1', kind: 'PersistentVolumeClaim' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
  { apiVersion: 'batch/v1', kind: 'Job' },
  { apiVersion: 'apps/v1', kind: 'StatefulSet' },
  { apiVersion: 'apps/v1', kind: 'Deployment' },
];

const WORKLOADS = new Set(['Job', 'StatefulSet', 'Deployment']);
export const MANAGED_BY = 'app.kubernetes.io/managed-by';

/** `Deployment/web` (with the namespace when asked): how objects are named to people. */
export function ref(o: { kind: string; metadata: { name: string; namespace?: string } }, withNs = false): string {
  return `${o.kind}/${withNs && o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
}

const group = (apiVersion: string) => (apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '');
/** Identity of an object: API group, kind, namespace, name (the version may differ between what is sent and what is read). */
export function identity(o: K8sObject): string {
  return `${group(o.apiVersion)}/${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

/** The label selector of the project's objects: both labels the render puts on every object. */
export function projectSelector(project: string): string {
  return `${LABEL_PROJECT}=${project},${MANAGED_BY}=tsstack`;
}

/**
 * Apply order: everything a workload refers to first (account, role, Secrets, ConfigMaps, claims,
 * Services, policies: the render's order), then the workloads in depends_on order, so a pod's
 * dependencies exist before it is made (their init containers wait for readiness, not existence).
 */
export function applyOrder(objects: K8sObject[], model: StackModel): K8sObject[] {
  const config = objects.filter((o) => !WORKLOADS.has(o.kind));
  const workloads = objects.filter((o) => WORKLOADS.has(o.kind));
  // service label value → the stack's service name (labels are the Kubernetes form of the name)
  const byLabel = new Map<string, string>();
  for (const o of workloads) {
    const l = o.metadata.labels?.[LABEL_SERVICE];
    if (l !== undefined) byLabel.set(o.metadata.name, Object.keys(model.services).find((s) => dnsLabel(s) === l) ?? l);
  }
  const done = new Set<string>();
  const out: K8sObject[] = [];
  const visit = (o: K8sObject, path: string[]) => {
    const svc = byLabel.get(o.metadata.name) ?? o.metadata.name;
    if (done.has(svc) || path.includes(svc)) return; // a cycle is the loader's to refuse; never loop here
    for (const dep of Object.keys(model.services[svc]?.depends_on ?? {}).sort()) {
      const d = workloads.find((w) => byLabel.get(w.metadata.name) === dep);
      if (d) visit(d, [...path, svc]);
    }
    done.add(svc);
    out.push(...workloads.filter((w) => (byLabel.get(w.metadata.name) ?? w.metadata.name) === svc && !out.includes(w)));
  };
  for (const w of [...workloads].sort((a, b) => cmp(a.metadata.name, b.metadata.name))) visit(w, []);
  return [...config, ...out];
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The live objects a deploy removes: those carrying the project's labels (checked here again, not
 * only trusted to the server's selector), of a kind tsstack renders, owned by no controller, and
 * not among the rendered objects. Nothing else, whatever the list held.
 */
export function pruneSelection(project: string, rendered: K8sObject[], live: K8sObject[]): K8sObject[] {
  const keep = new Set(rendered.map(identity));
  const kinds = new Set(MANAGED_KINDS.map((k) => `${group(k.apiVersion)}/${k.kind}`));
  return live
    .filter((o) => o.metadata.labels?.[LABEL_PROJECT] === project && o.metadata.labels?.[MANAGED_BY] === 'tsstack')
    .filter((o) => kinds.has(`${group(o.apiVersion)}/${o.kind}`))
    .filter((o) => !((o.metadata as { ownerReferences?: unknown[] }).ownerReferences ?? []).length)
    .filter((o) => !keep.has(identity(o)))
    .sort((a, b) => removalRank(a) - removalRank(b) || cmp(a.metadata.name, b.metadata.name));
}

/** Removal goes the other way: workloads first, what they use last. */
function removalRank(o: K8sObject): number {
  return -MANAGED_KINDS.findIndex((k) => k.kind === o.kind);
}

// ---- the diff ----------------------------------------------------------------------------------

export interface FieldChange {
  /** `spec.template.spec.containers[web].image`: list items with a unique name are named by it. */
  path: string;
  op: 'add' | 'remove' | 'change';
  from?: unknown;
  to?: unknown;
}

export type PlanAction = 'create' | 'update' | 'unchanged' | 'prune';

export interface ObjectPlan {
  action: PlanAction;
  object: string;
  changes: FieldChange[];
}

/** Fields the server writes on every request, never part of what changes. */
const SERVER_METADATA = ['managedFields', 'resourceVersion', 'uid', 'generation', 'creationTimestamp', 'selfLink'];
const SERVER_ANNOTATIONS = ['kubectl.kubernetes.io/last-applied-configuration', 'deployment.kubernetes.io/revision'];

/** An object as it is compared: without status and the server's bookkeeping. */
export function comparable(o: K8sObject): Record<string, unknown> {
  const { status: _s, metadata, ...rest } = o as K8sObject & { status?: unknown };
  const m: Record<string, unknown> = { ...metadata };
  for (const k of SERVER_METADATA) delete m[k];
  if (m.annotations) {
    const a = { ...(m.annotations as Record<string, string>) };
    for (const k of SERVER_ANNOTATIONS) delete a[k];
    if (Object.keys(a).length) m.annotations = a;
    else delete m.annotations;
  }
  return { ...rest, metadata: m };
}

/** A Secret's values are never printed: a changed key says only that it changed. */
function masked(o: K8sObject, path: string, v: unknown): unknown {
  if (o.kind === 'Secret' && /^(data|stringData)(\.|$)/.test(path) && v !== undefined) return '(secret)';
  return v;
}

/** Field-by-field differences between the live object and the dry-run result (both as the server returned them). */
export function diffObjects(live: K8sObject, next: K8sObject): FieldChange[] {
  const out: FieldChange[] = [];
  walk(comparable(live), comparable(next), '', out);
  return out.map((c) => ({ ...c, ...('from' in c ? { from: masked(next, c.path, c.from) } : {}), ...('to' in c ? { to: masked(next, c.path, c.to) } : {}) }));
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const join = (base: string, key: string) => (base ? `${base}.${key}` : key);

/** Items keyed by `name` when every item has a distinct one (containers, env, volumes, ports), else by index. */
function keyed(list: unknown[]): Map<string, unknown> | undefined {
  const m = new Map<string, unknown>();
  for (const it of list) {
    if (!isObj(it) || typeof it.name !== 'string' || m.has(it.name)) return undefined;
    m.set(it.name, it);
  }
  return m;
}

function walk(a: unknown, b: unknown, path: string, out: FieldChange[]): void {
  if (a === undefined && b === undefined) return;
  if (a === undefined) return void out.push({ path, op: 'add', to: b });
  if (b === undefined) return void out.push({ path, op: 'remove', from: a });
  if (isObj(a) && isObj(b)) {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) walk(a[k], b[k], join(path, k), out);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const ka = keyed(a);
    const kb = keyed(b);
    if (ka && kb) {
      const names = [...ka.keys(), ...[...kb.keys()].filter((k) => !ka.has(k))];
      for (const n of names) walk(ka.get(n), kb.get(n), `${path}[${n}]`, out);
      return;
    }
    for (let i = 0; i < Math.max(a.length, b.length); i++) walk(a[i], b[i], `${path}[${i}]`, out);
    return;
  }
  if (JSON.stringify(a) !== JSON.stringify(b)) out.push({ path, op: 'change', from: a, to: b });
}

/** What the plan says of one rendered object: created (no live object), updated (with its fields) or unchanged. */
export function planObject(desired: K8sObject, live: K8sObject | undefined, dryRun: K8sObject): ObjectPlan {
  if (!live) return { action: 'create', object: ref(desired), changes: [] };
  const changes = diffObjects(live, dryRun);
  return { action: changes.length ? 'update' : 'unchanged', object: ref(desired), changes };
}

const show = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? 'null');

/** The plan as lines, in the style of `tsstack plan`: one line per object, one indented line per field. */
export function formatPlan(plans: ObjectPlan[]): string[] {
  const lines: string[] = [];
  for (const p of plans) {
    if (p.action === 'unchanged') lines.push(`unchanged ${p.object}`);
    else if (p.action === 'create') lines.push(`create ${p.object}`);
    else if (p.action === 'prune') lines.push(`prune ${p.object} (no longer in the stack)`);
    else {
      lines.push(`update ${p.object} (${p.changes.length} field${p.changes.length === 1 ? '' : 's'})`);
      for (const c of p.changes) {
        if (c.op === 'add') lines.push(`    + ${c.path}: ${show(c.to)}`);
        else if (c.op === 'remove') lines.push(`    - ${c.path}: ${show(c.from)}`);
        else lines.push(`    ~ ${c.path}: ${show(c.from)} → ${show(c.to)}`);
      }
    }
  }
  return lines;
}
