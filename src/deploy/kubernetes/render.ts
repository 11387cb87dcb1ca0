// `tsstack render kubernetes`: the stack model → Kubernetes objects, a pure
// function (file contents and source lines come in through options). Output
// is deterministic: objects in apply order (kind, then name), keys sorted by
// the printer, no timestamps; two renders of one stack are byte-equal.

import { stringify } from 'yaml';
import type { StackModel } from '../../model/types.js';
import { serviceExtension, stackExtension, type ServiceExtension } from './extension.js';
import { waitAccount, type WorkloadKind } from './init-wait.js';
import { NameTable } from './names.js';
import { networkPolicies } from './network-policies.js';
import { servicesFor } from './services.js';
import { claims, fileObjects } from './volumes.js';
import { workloadFor, workloadKind } from './workloads.js';
import { RenderCtx, type K8sObject, type RenderOptions, type RenderWarning } from './types.js';

export type { K8sObject, RenderOptions, RenderWarning } from './types.js';

/** Apply order: what others refer to first. */
const KIND_ORDER = ['ServiceAccount', 'Role', 'RoleBinding', 'Secret', 'ConfigMap', 'PersistentVolumeClaim', 'Service', 'NetworkPolicy', 'Job', 'StatefulSet', 'Deployment'];

export interface Rendered {
  objects: K8sObject[];
  warnings: RenderWarning[];
}

export function renderKubernetes(model: StackModel, opts: RenderOptions = {}): Rendered {
  const ctx = new RenderCtx(model, opts);
  const sext = stackExtension(ctx);
  const names = new NameTable();
  const svcs = Object.keys(model.services).sort();
  const exts: Record<string, ServiceExtension> = {};
  const kinds: Record<string, WorkloadKind> = {};
  for (const svc of svcs) {
    exts[svc] = serviceExtension(ctx, svc);
    kinds[svc] = workloadKind(ctx, svc, exts[svc]!);
  }
  const objects: K8sObject[] = [];
  if (svcs.some((s) => Object.keys(model.services[s]!.depends_on).length)) objects.push(...waitAccount(ctx));
  objects.push(...fileObjects(ctx, names), ...claims(ctx, sext, names));
  const publishing: string[] = [];
  for (const svc of svcs) {
    const s = model.services[svc]!;
    const objs = workloadFor(ctx, svc, exts[svc]!, sext, kinds);
    for (const o of objs) names.claim(ctx, o.kind, o.metadata.name, `service ${svc}`, ['services', svc]);
    objects.push(...objs, ...servicesFor(ctx, svc, s, exts[svc]!, names));
    if (exts[svc]!.publish && s.ports.some((p) => p.published !== undefined)) publishing.push(svc);
  }
  for (const o of networkPolicies(ctx, publishing, sext.apiServerCIDR)) {
    // `net-a-internal` (network a's egress policy) against a network named a-internal, `published-x` against a network so named
    if (objects.some((x) => x.kind === o.kind && x.metadata.name === o.metadata.name)) throw ctx.error(['networks'], `two NetworkPolicies would be named ${JSON.stringify(o.metadata.name)}`, 'rename the network (or service) whose name ends like the other\'s');
    objects.push(o);
  }
  if (opts.namespace) for (const o of objects) o.metadata = { ...o.metadata, namespace: opts.namespace };
  objects.sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
  const warnings = [...ctx.warnings].sort((a, b) => (a.file ?? '').localeCompare(b.file ?? '') || (a.line ?? 0) - (b.line ?? 0) || a.path.localeCompare(b.path) || a.message.localeCompare(b.message));
  return { objects, warnings: dedupe(warnings) };
}

function dedupe(ws: RenderWarning[]): RenderWarning[] {
  const seen = new Set<string>();
  return ws.filter((w) => {
    const k = JSON.stringify(w);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** One object as YAML, keys sorted (deterministic). */
export function objectYaml(o: K8sObject): string {
  // YAML 1.1 quoting: kubectl reads `on`, `yes`, `no` as booleans, so such strings must be quoted
  return stringify(o, { sortMapEntries: true, lineWidth: 0, aliasDuplicateObjects: false, version: '1.1' });
}

/** All objects as one YAML stream. */
export function yamlStream(objects: K8sObject[]): string {
  return objects.map((o) => `---\n${objectYaml(o)}`).join('');
}

/** File name of an object under -o DIR: `<order>-<kind>-<name>.yaml`, so a directory listing is the apply order. */
export function objectFileName(o: K8sObject): string {
  const i = KIND_ORDER.indexOf(o.kind);
  return `${String(i < 0 ? 99 : i).padStart(2, '0')}-${o.kind.toLowerCase()}-${o.metadata.name}.yaml`;
}

export function formatWarning(w: RenderWarning): string {
  const where = w.file ? `${w.file}${w.line !== undefined ? `:${w.line}` : ''}: ` : '';
  return `${where}${w.path}: ${w.message}`;
}
