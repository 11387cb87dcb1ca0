// The `x-kubernetes` extension: the few choices a stack file makes for the
// render that Compose has no key for. Read strictly (an unknown key or a bad
// value is an error naming its line), since a typo here would otherwise change
// what the cluster runs without a word.

import type { RenderCtx } from './types.js';

export const EXTENSION = 'x-kubernetes';

export interface StackExtension {
  /** Image of the init containers that wait on depends_on (kubectl 1.31 or later). */
  kubectlImage: string;
  volumes: Record<string, { size: string; storageClassName?: string; accessModes: string[] }>;
  /** Address block of the API server: pods on internal networks only may reach it (their wait init containers need it). */
  apiServerCIDR?: string;
}

/** `config`: the file's contents as a ConfigMap (a file only); `emptyDir`: an empty directory; `hostPath`: the node's path. */
export type BindMapping = 'config' | 'emptyDir' | 'hostPath';

export interface ServiceExtension {
  workload?: 'Deployment' | 'StatefulSet' | 'Job';
  /** Service type for published ports (none: they stay inside the cluster, with a warning). */
  publish?: 'NodePort' | 'LoadBalancer';
  /** Bind mount target → what stands for it in the cluster. */
  binds: Record<string, BindMapping>;
}

export const DEFAULT_KUBECTL_IMAGE = 'bitnami/kubectl:1.31';
export const DEFAULT_VOLUME_SIZE = '1Gi';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const QUANTITY = /^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;
const ACCESS_MODES = ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod'];

function keysOnly(ctx: RenderCtx, at: (string | number)[], v: Obj, allowed: string[]): void {
  for (const k of Object.keys(v)) if (!allowed.includes(k)) throw ctx.error([...at, k], `unknown ${EXTENSION} key ${JSON.stringify(k)}`, `known keys here: ${allowed.join(', ')}`);
}

function str(ctx: RenderCtx, at: (string | number)[], v: unknown, choices?: string[]): string {
  if (typeof v !== 'string' || !v || (choices && !choices.includes(v))) throw ctx.error(at, `${EXTENSION}: expected ${choices ? `one of ${choices.join(', ')}` : 'a non-empty string'}, got ${JSON.stringify(v)}`);
  return v;
}

export function stackExtension(ctx: RenderCtx): StackExtension {
  const raw = ctx.model.extensions[EXTENSION];
  const out: StackExtension = { kubectlImage: DEFAULT_KUBECTL_IMAGE, volumes: {} };
  if (raw === undefined || raw === null) return out;
  const at = [EXTENSION];
  if (!isObj(raw)) throw ctx.error(at, `${EXTENSION} must be a mapping`);
  keysOnly(ctx, at, raw, ['images', 'volumes', 'apiServerCIDR']);
  if (raw.apiServerCIDR !== undefined) {
    const c = str(ctx, [...at, 'apiServerCIDR'], raw.apiServerCIDR);
    if (!/^[0-9a-fA-F.:]+\/\d{1,3}$/.test(c)) throw ctx.error([...at, 'apiServerCIDR'], `${EXTENSION}.apiServerCIDR must be an address block like 10.96.0.1/32, got ${JSON.stringify(c)}`);
    out.apiServerCIDR = c;
  }
  if (raw.images !== undefined) {
    if (!isObj(raw.images)) throw ctx.error([...at, 'images'], `${EXTENSION}.images must be a mapping`);
    keysOnly(ctx, [...at, 'images'], raw.images, ['kubectl']);
    if (raw.images.kubectl !== undefined) out.kubectlImage = str(ctx, [...at, 'images', 'kubectl'], raw.images.kubectl);
  }
  if (raw.volumes !== undefined) {
    if (!isObj(raw.volumes)) throw ctx.error([...at, 'volumes'], `${EXTENSION}.volumes must be a mapping`);
    for (const [name, v] of Object.entries(raw.volumes)) {
      const vat = [...at, 'volumes', name];
      if (!(name in ctx.model.volumes)) throw ctx.error(vat, `${EXTENSION}.volumes names ${JSON.stringify(name)}, which is not a volume of the stack`);
      if (!isObj(v)) throw ctx.error(vat, `${EXTENSION}.volumes.${name} must be a mapping`);
      keysOnly(ctx, vat, v, ['size', 'storageClassName', 'accessModes']);
      const size = v.size === undefined ? DEFAULT_VOLUME_SIZE : str(ctx, [...vat, 'size'], String(v.size));
      if (!QUANTITY.test(size)) throw ctx.error([...vat, 'size'], `${EXTENSION}.volumes.${name}.size must be a Kubernetes quantity like 10Gi, got ${JSON.stringify(size)}`);
      const modes = v.accessModes === undefined ? ['ReadWriteOnce'] : v.accessModes;
      if (!Array.isArray(modes) || !modes.length) throw ctx.error([...vat, 'accessModes'], `${EXTENSION}.volumes.${name}.accessModes must be a list`);
      out.volumes[name] = {
        size,
        ...(v.storageClassName !== undefined ? { storageClassName: str(ctx, [...vat, 'storageClassName'], v.storageClassName) } : {}),
        accessModes: modes.map((m, i) => str(ctx, [...vat, 'accessModes', i], m, ACCESS_MODES)),
      };
    }
  }
  return out;
}

export function serviceExtension(ctx: RenderCtx, svc: string): ServiceExtension {
  const raw = ctx.model.services[svc]!.extensions[EXTENSION];
  const out: ServiceExtension = { binds: {} };
  if (raw === undefined || raw === null) return out;
  const at = ['services', svc, EXTENSION];
  if (!isObj(raw)) throw ctx.error(at, `${EXTENSION} must be a mapping`);
  keysOnly(ctx, at, raw, ['workload', 'publish', 'binds']);
  if (raw.workload !== undefined) out.workload = str(ctx, [...at, 'workload'], raw.workload, ['Deployment', 'StatefulSet', 'Job']) as ServiceExtension['workload'];
  if (raw.publish !== undefined) out.publish = str(ctx, [...at, 'publish'], raw.publish, ['NodePort', 'LoadBalancer']) as ServiceExtension['publish'];
  if (raw.binds !== undefined) {
    if (!isObj(raw.binds)) throw ctx.error([...at, 'binds'], `${EXTENSION}.binds must be a mapping of container path → config, emptyDir or hostPath`);
    for (const [target, v] of Object.entries(raw.binds)) out.binds[target] = str(ctx, [...at, 'binds', target], v, ['config', 'emptyDir', 'hostPath']) as BindMapping;
  }
  return out;
}
