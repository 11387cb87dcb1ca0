// Storage: named volumes → PersistentVolumeClaims, anonymous volumes and
// tmpfs → emptyDir, bind mounts → refused unless the extension maps them
// (a hostPath ties the pod to one node's files: never a silent default),
// secrets and configs → Secrets and ConfigMaps mounted file by file at the
// same paths as in the stack.

import type { FileObjectSpec, ServiceSpec } from '../../model/types.js';
import type { ServiceExtension, StackExtension } from './extension.js';
import { isLabelKey, isLabelValue, k8sName, projectLabels, type NameTable } from './names.js';
import type { K8sObject, RenderCtx } from './types.js';

export interface PodStorage {
  volumes: Record<string, unknown>[];
  mounts: Record<string, unknown>[];
  /** ConfigMaps made from bind-mounted files (x-kubernetes.binds: config). */
  objects: K8sObject[];
}

/** A ConfigMap holds at most 1 MiB. */
const CONFIGMAP_MAX = 1024 * 1024;

/** Kubernetes object name of stack volume `key` (external: the volume's own name). */
export function claimName(ctx: RenderCtx, key: string): string {
  const v = ctx.model.volumes[key]!;
  return k8sName(ctx, ['volumes', key], v.external ? v.name : key);
}

export function fileObjectName(ctx: RenderCtx, kind: 'secrets' | 'configs', key: string): string {
  const o = ctx.model[kind][key]!;
  return k8sName(ctx, [kind, key], o.external ? o.name : `${kind === 'secrets' ? 'secret' : 'config'}-${key}`, 253);
}

/** One PersistentVolumeClaim per named volume some service uses (external ones exist already). */
export function claims(ctx: RenderCtx, ext: StackExtension, names: NameTable): K8sObject[] {
  const used = new Set<string>();
  for (const s of Object.values(ctx.model.services)) for (const v of s.volumes) if (v.type === 'volume' && v.source) used.add(v.source);
  const out: K8sObject[] = [];
  for (const key of [...used].sort()) {
    const v = ctx.model.volumes[key];
    if (!v) continue;
    const at = ['volumes', key];
    if (v.external) {
      ctx.warn(at, `volume ${key} is external: a PersistentVolumeClaim ${claimName(ctx, key)} must exist in the namespace`);
      continue;
    }
    if (v.driver && v.driver !== 'local') ctx.warn([...at, 'driver'], `volume driver ${JSON.stringify(v.driver)} has no Kubernetes form; the claim uses the cluster's storage class (set ${'x-kubernetes'}.volumes.${key}.storageClassName)`);
    if (Object.keys(v.driver_opts).length) ctx.warn([...at, 'driver_opts'], 'driver_opts have no Kubernetes form; not rendered');
    const e = ext.volumes[key] ?? { size: '1Gi', accessModes: ['ReadWriteOnce'] };
    const name = claimName(ctx, key);
    names.claim(ctx, 'PersistentVolumeClaim', name, `volume ${key}`, at);
    out.push({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name, labels: { ...projectLabels(ctx), ...validLabels(v.labels) } },
      spec: { accessModes: e.accessModes, resources: { requests: { storage: e.size } }, ...(e.storageClassName ? { storageClassName: e.storageClassName } : {}) },
    });
  }
  return out;
}

function validLabels(l: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(l).filter(([k, v]) => isLabelKey(k) && isLabelValue(v)));
}

/** Secrets and ConfigMaps for the stack's secrets and configs that services use. */
export function fileObjects(ctx: RenderCtx, names: NameTable): K8sObject[] {
  const out: K8sObject[] = [];
  for (const kind of ['secrets', 'configs'] as const) {
    const used = new Set<string>();
    for (const s of Object.values(ctx.model.services)) for (const r of s[kind]) used.add(r.source);
    for (const key of [...used].sort()) {
      const o = ctx.model[kind][key];
      if (!o || o.external) continue;
      const name = fileObjectName(ctx, kind, key);
      names.claim(ctx, kind === 'secrets' ? 'Secret' : 'ConfigMap', name, `${kind.slice(0, -1)} ${key}`, [kind, key]);
      const bytes = contentOf(ctx, kind, key, o);
      if (bytes.length > CONFIGMAP_MAX) throw ctx.error([kind, key], `${kind.slice(0, -1)} ${key} is ${bytes.length} bytes: a ${kind === 'secrets' ? 'Secret' : 'ConfigMap'} holds at most 1 MiB`, 'make it smaller, or mark it external: true and provide it in the cluster another way');
      const meta = { name, labels: projectLabels(ctx) };
      if (kind === 'secrets') out.push({ apiVersion: 'v1', kind: 'Secret', metadata: meta, type: 'Opaque', data: { [key]: bytes.toString('base64') } });
      else {
        const text = bytes.toString('utf8');
        const utf8 = Buffer.from(text, 'utf8').equals(bytes);
        out.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: meta, ...(utf8 ? { data: { [key]: text } } : { binaryData: { [key]: bytes.toString('base64') } }) });
      }
    }
  }
  return out;
}

function contentOf(ctx: RenderCtx, kind: 'secrets' | 'configs', key: string, o: FileObjectSpec): Buffer {
  if (o.content !== undefined) return Buffer.from(o.content, 'utf8');
  if (o.file !== undefined) {
    const b = ctx.opts.readFile?.(o.file);
    if (b === undefined) throw ctx.error([kind, key, 'file'], `cannot read ${o.file} for ${kind.slice(0, -1)} ${key}`, 'make the file readable, or mark the object external: true and create it in the cluster');
    return b;
  }
  throw ctx.error([kind, key], `${kind.slice(0, -1)} ${key} has no value (its environment variable is unset)`, `set ${o.environment ?? 'the variable'} or mark it external: true`);
}

/** A short, unique pod volume name. */
const volName = (prefix: string, i: number) => `${prefix}-${i}`;

/** The pod's volumes and the container's mounts for service `svc`. */
export function podStorage(ctx: RenderCtx, svc: string, s: ServiceSpec, ext: ServiceExtension): PodStorage {
  const volumes: Record<string, unknown>[] = [];
  const mounts: Record<string, unknown>[] = [];
  const objects: K8sObject[] = [];
  const ro = (r?: boolean) => (r ? { readOnly: true } : {});
  s.volumes.forEach((v, i) => {
    const at = ['services', svc, 'volumes', i];
    const name = volName(v.type === 'volume' && v.source ? 'data' : v.type === 'volume' ? 'anon' : v.type, i);
    if (v.type === 'volume') {
      if (v.source) volumes.push({ name, persistentVolumeClaim: { claimName: claimName(ctx, v.source), ...ro(v.read_only) } });
      else volumes.push({ name, emptyDir: {} });
      if (v.volume?.nocopy) ctx.warn([...at, 'volume', 'nocopy'], 'a claim starts empty in Kubernetes (the image\'s files are never copied in); nocopy is what it does anyway');
      else if (v.source) ctx.warn(at, `the image's files at ${v.target} are not copied into a new claim as Docker copies them into a new volume`);
      mounts.push({ name, mountPath: v.target, ...ro(v.read_only), ...(v.volume?.subpath ? { subPath: v.volume.subpath } : {}) });
    } else if (v.type === 'tmpfs') {
      volumes.push({ name, emptyDir: { medium: 'Memory', ...(v.tmpfs?.size ? { sizeLimit: String(v.tmpfs.size) } : {}) } });
      if (v.tmpfs?.mode !== undefined) ctx.warn([...at, 'tmpfs', 'mode'], 'an emptyDir has no mode; not rendered');
      mounts.push({ name, mountPath: v.target, ...ro(v.read_only) });
    } else {
      const mapped = ext.binds[v.target];
      if (!mapped) {
        throw ctx.error(at, `service ${svc} bind-mounts ${v.source} at ${v.target}: a host path does not exist on a cluster's nodes`, `use a named volume or a config instead, or map it in the service's x-kubernetes.binds: { "${v.target}": config } (a file's contents as a ConfigMap), emptyDir, or hostPath (which ties the pod to one node's files)`);
      }
      if (mapped === 'config') {
        const bytes = ctx.opts.readFile?.(v.source);
        if (bytes === undefined) throw ctx.error(at, `cannot read ${v.source} to make it a ConfigMap (only a file can be one)`, 'map a directory to emptyDir, or make it a named volume');
        if (bytes.length > CONFIGMAP_MAX) throw ctx.error(at, `${v.source} is ${bytes.length} bytes: a ConfigMap holds at most 1 MiB`, 'map it to emptyDir or use a named volume');
        const cm = k8sName(ctx, at, `${svc}-bind-${i}`, 253);
        const key = 'content';
        const text = bytes.toString('utf8');
        objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: cm, labels: projectLabels(ctx) }, ...(Buffer.from(text, 'utf8').equals(bytes) ? { data: { [key]: text } } : { binaryData: { [key]: bytes.toString('base64') } }) });
        volumes.push({ name, configMap: { name: cm } });
        mounts.push({ name, mountPath: v.target, subPath: key, readOnly: true });
        if (!v.read_only) ctx.warn(at, `${v.target} is a ConfigMap file in the cluster: read-only, and changes on the host reach it only by rendering again`);
        return;
      }
      if (mapped === 'hostPath') volumes.push({ name, hostPath: { path: v.source } });
      else volumes.push({ name, emptyDir: {} });
      mounts.push({ name, mountPath: v.target, ...ro(v.read_only) });
    }
  });
  s.tmpfs.forEach((t, i) => {
    const name = volName('tmp', i);
    const { target } = t;
    const dropped = [t.mode !== undefined && 'mode', t.uid !== undefined && 'uid', t.gid !== undefined && 'gid', t.nrInodes !== undefined && 'nr_inodes', ...(t.flags ?? [])].filter(Boolean);
    if (dropped.length) ctx.warn(['services', svc, 'tmpfs', i], `tmpfs options ${dropped.join(', ')} have no emptyDir form; not rendered`);
    volumes.push({ name, emptyDir: { medium: 'Memory', ...(t.size ? { sizeLimit: String(t.size) } : {}) } });
    mounts.push({ name, mountPath: target });
  });
  for (const kind of ['secrets', 'configs'] as const) {
    s[kind].forEach((r, i) => {
      const at = ['services', svc, kind, i];
      const name = volName(kind === 'secrets' ? 'secret' : 'config', i);
      const o = ctx.model[kind][r.source]!;
      const key = o.external ? o.name : r.source;
      const target = r.target?.startsWith('/') ? r.target : kind === 'secrets' ? `/run/secrets/${r.target ?? r.source}` : `/${r.target ?? r.source}`;
      const item = { key, path: key, ...(r.mode !== undefined ? { mode: r.mode } : {}) };
      const source = { items: [item] };
      volumes.push(kind === 'secrets' ? { name, secret: { secretName: fileObjectName(ctx, kind, r.source), ...source } } : { name, configMap: { name: fileObjectName(ctx, kind, r.source), ...source } });
      mounts.push({ name, mountPath: target, subPath: key, readOnly: true });
      if (r.uid !== undefined || r.gid !== undefined) ctx.warn(at, 'uid/gid of a mounted file have no Kubernetes form (files belong to root, or to the pod\'s fsGroup); not rendered');
      if (o.external) ctx.warn(at, `${kind.slice(0, -1)} ${r.source} is external: a ${kind === 'secrets' ? 'Secret' : 'ConfigMap'} ${fileObjectName(ctx, kind, r.source)} with key ${key} must exist in the namespace`);
    });
  }
  if (s.shm_size !== undefined) {
    volumes.push({ name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: String(s.shm_size) } });
    mounts.push({ name: 'shm', mountPath: '/dev/shm' });
  }
  return { volumes, mounts, objects };
}

/** True when `svc` is the only service using named volume `key`. */
export function ownsVolume(ctx: RenderCtx, svc: string, key: string): boolean {
  return Object.entries(ctx.model.services).every(([n, s]) => n === svc || !s.volumes.some((v) => v.type === 'volume' && v.source === key));
}
