// Object names and labels. Compose names allow `_` and `.` and capitals;
// Kubernetes wants DNS-1123 labels (lower-case, digits, `-`, ≤ 63). Services
// keep their name where they can, so `db:5432` still resolves in the cluster.

import type { RenderCtx } from './types.js';
import type { Ref } from '../../model/types.js';

export const LABEL_PROJECT = 'tsstack.project';
export const LABEL_SERVICE = 'tsstack.service';
/** Pods on stack network N carry `tsstack.network/N: "true"` (network-policies.ts). */
export const NETWORK_LABEL_PREFIX = 'tsstack.network/';

/** `My_Service.1` → `my-service-1` (possibly empty or not starting with a letter: k8sName checks). */
export function dnsLabel(name: string, max = 63): string {
  return name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, max).replace(/-+$/, '');
}

/** `My_Service.1` → `my-service-1`; throws when nothing usable is left. */
export function k8sName(ctx: RenderCtx, path: (string | number)[], name: string, max = 63): string {
  const n = dnsLabel(name, max);
  if (!n || !/^[a-z]/.test(n)) throw ctx.error(path, `${JSON.stringify(name)} cannot be made a Kubernetes name (lower-case letters, digits and -, starting with a letter)`, 'rename it');
  return n;
}

/** A Kubernetes label value (≤ 63, alphanumerics at both ends, `-_.` inside)? */
export function isLabelValue(v: string): boolean {
  return v.length <= 63 && /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/.test(v);
}

/** A Kubernetes label key (optional DNS prefix `/`, name ≤ 63)? */
export function isLabelKey(k: string): boolean {
  const slash = k.lastIndexOf('/');
  const prefix = slash < 0 ? '' : k.slice(0, slash);
  const name = slash < 0 ? k : k.slice(slash + 1);
  if (prefix && (prefix.length > 253 || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(prefix))) return false;
  return !!name && isLabelValue(name);
}

export function projectLabels(ctx: RenderCtx): Record<string, string> {
  return { 'app.kubernetes.io/managed-by': 'tsstack', 'app.kubernetes.io/part-of': ctx.model.name, [LABEL_PROJECT]: ctx.model.name };
}

/** The label value naming service `svc` (its Kubernetes name: a Compose name may end in `.` or `_`, which a label value may not). */
export function serviceLabel(ctx: RenderCtx, svc: string): string {
  return k8sName(ctx, ['services', svc], svc);
}

export function selectorOf(ctx: RenderCtx, svc: string): Record<string, string> {
  return { [LABEL_PROJECT]: ctx.model.name, [LABEL_SERVICE]: serviceLabel(ctx, svc) };
}

/** Remembers every name given per kind, so two stack names that map to one Kubernetes name are an error, not an overwrite. */
export class NameTable {
  private readonly taken = new Map<string, string>();
  claim(ctx: RenderCtx, kind: string, name: string, owner: string, path: (string | number)[]): void {
    const key = `${kind}/${name}`;
    const prev = this.taken.get(key);
    if (prev !== undefined && prev !== owner) throw ctx.error(path, `${owner} and ${prev} would both be the ${kind} ${JSON.stringify(name)}`, 'rename one of them');
    this.taken.set(key, owner);
  }
}

/** network_mode host, none, service:X or container:X: the service is not on the stack's networks (bridge is the default). */
export function ownNetworkMode(mode: string | Ref | undefined): boolean {
  return mode !== undefined && mode !== 'bridge' && mode !== 'default';
}
