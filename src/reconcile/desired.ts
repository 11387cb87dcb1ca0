// The desired state: per service and replica, the container's full config
// (the model merged with the image's defaults), its hash, and the networks and
// volumes the project needs. Pure: images are passed in, already inspected.

import type { ContainerCreateSpec, EndpointSpec, HealthcheckConfig, ImageInfo, Labels, LifecycleHook, Mount, NetworkCreateSpec, PublishedPort } from '../engine/api.js';
import { posix } from 'node:path';
import { LABEL } from '../engine/api.js';
import type { DependsOn, DeviceCgroupRule, LoggingSpec, Ref, RestartPolicy, ServiceHook, ServiceSpec, StackModel, VolumesFromEntry } from '../model/types.js';
import { parseBytes } from '../model/units.js';
import { defaultHostname } from '../model/uts.js';
import { formatCgroupRule, formatMode, volumesFromEntry } from '../model/format.js';
import { appliedSecurityOpts, serviceRefs } from '../model/service.js';
import { effectiveHealthcheck } from '../model/healthcheck.js';
import { seccompProfileDigest } from './seccomp-digest.js';
import { canonicalJson, configHash } from './canonical.js';

/** Labels reconcile adds beside those in api.ts. */
export const RLABEL = {
  /** The canonical desired config the container was made from (for field-level diffs). */
  config: 'tsstack.config',
  /** Services the container's service depends on (comma-separated), for `start`/`ps`. */
  dependsOn: 'tsstack.depends-on',
  /** Stack file paths, comma-separated (for `ls`). */
  configFiles: 'tsstack.config-files',
  workingDir: 'tsstack.working-dir',
} as const;

/**
 * The hashed part of a container's config: every input that, when it changes,
 * means the container must be recreated. Keys are user-facing names so a diff
 * reads like the stack file (`environment.REDIS_URL`, `ports[0]`).
 */
export interface ContainerConfig {
  name: string;
  image: string;
  /** Image id (`sha256:…`); absent while the image is still to be pulled or built. */
  imageId?: string;
  command: string[];
  environment: Record<string, string>;
  working_dir: string;
  user?: string;
  group_add?: string[];
  hostname: string;
  domainname?: string;
  labels: Labels;
  ports: PublishedPort[];
  volumes: Mount[];
  /** Per network: the endpoint, plus the network's own subnet/internal when the stack sets them (a change there concerns the container too). */
  networks: Record<string, { aliases: string[]; ipv4_address?: string; priority: number; subnet?: string; internal?: boolean }>;
  network_mode?: string;
  /** Namespaces shared instead of made (`host`, `container:<name>`; a `service:` reference resolved to its first container). */
  pid?: string;
  ipc?: string;
  uts?: 'host';
  /** The applied `security_opt` entries. */
  no_new_privileges?: boolean;
  seccomp?: string;
  /** sha256 of a seccomp profile file's content: editing the file recreates the container (the path alone would not). */
  seccomp_sha256?: string;
  cgroup_parent?: string;
  /** Host devices (long form) and extra device cgroup rules as written; absent when none (existing hashes stay). */
  devices?: { source: string; target: string; permissions: string }[];
  device_cgroup_rules?: DeviceCgroupRule[];
  restart: RestartPolicy;
  stop_signal: string;
  stop_grace_period: number;
  healthcheck?: HealthcheckConfig;
  resources: ContainerCreateSpec['resources'];
  tty?: boolean;
  stdin_open?: boolean;
  init?: boolean;
  read_only?: boolean;
  privileged?: boolean;
  cap_add?: string[];
  cap_drop?: string[];
  extra_hosts?: string[];
  dns?: string[];
  dns_search?: string[];
  sysctls?: Record<string, string>;
  ulimits?: Record<string, { soft: number; hard: number }>;
  dns_opt?: string[];
  /** As written in the stack file: any change recreates the container, as Compose does. */
  logging?: LoggingSpec;
  runtime?: string;
  /** Lifecycle hooks as in the model: part of the service's config, so a change recreates (as Compose's hash). */
  post_start?: ServiceHook[];
  pre_stop?: ServiceHook[];
  /** `volumes_from` (hashed as written), and the binds/volumes its service references resolve to (a change there recreates). */
  volumes_from?: VolumesFromEntry[];
  volumes_from_mounts?: Mount[];
  /** Service references to a service outside the model given (`run` passes only its own): its first container, by name. */
  volumes_from_containers?: VolumesFromEntry[];
}

export interface DesiredContainer {
  /** `service:<name>:<n>` */
  id: string;
  service: string;
  number: number;
  name: string;
  config: ContainerConfig;
  hash: string;
}

/**
 * A config/secret value from the stack or the environment, written (0600, in 0700 directories) where only root
 * reads it before containers copy it (engine: the `file` option of a bind mount sets their copy's owner and mode).
 */
export interface GeneratedFile {
  path: string;
  content: string;
}

export interface DesiredService {
  name: string;
  replicas: number;
  /** Image reference the containers run (for build services: the tag built). */
  image: string;
  build?: ServiceSpec['build'];
  pullPolicy?: ServiceSpec['pull_policy'];
  /** True when the image is not present locally (desired configs lack image defaults). */
  imageMissing: boolean;
  dependsOn: Record<string, DependsOn>;
  /** `restart: no`: a container that exited 0 with an unchanged hash is done, not re-run. */
  oneShot: boolean;
  containers: DesiredContainer[];
}

export interface DesiredNetwork {
  /** Key in the stack file (`default`, `backend`). */
  key: string;
  spec: NetworkCreateSpec;
  external: boolean;
}

export interface DesiredVolume {
  key: string;
  name: string;
  labels: Labels;
  external: boolean;
}

export interface DesiredState {
  project: string;
  services: Record<string, DesiredService>;
  networks: DesiredNetwork[];
  volumes: DesiredVolume[];
  files: GeneratedFile[];
}

export interface DesiredOptions {
  /** `--scale svc=N`, overriding `scale`/`deploy.replicas`. */
  scale?: Record<string, number>;
  runtime?: string;
  /** Directory where generated config/secret files are written (`<root>/projects/<project>`). */
  filesDir?: string;
  /** Process environment for `environment:`-sourced configs and secrets. */
  env?: Record<string, string | undefined>;
  /** Extra labels on every container (config files, working dir). */
  projectLabels?: Labels;
}

/** The image a service runs: `image:`, or `<project>-<service>` for a build without one. */
export function serviceImage(project: string, name: string, svc: ServiceSpec): string {
  return svc.image ?? `${project}-${name}`;
}

export function replicasOf(name: string, svc: ServiceSpec, scale?: Record<string, number>): number {
  const s = scale?.[name];
  if (s !== undefined) return s;
  if (svc.scale !== undefined) return svc.scale;
  if (svc.deploy?.replicas !== undefined) return svc.deploy.replicas;
  return 1;
}

export function containerName(project: string, service: string, n: number, svc?: ServiceSpec): string {
  return svc?.container_name ?? `${project}-${service}-${n}`;
}


/** Labels every container of this project gets besides its own (for `ls`). */
export function projectLabels(model: StackModel): Labels {
  return { 'tsstack.config-files': model.sourceFiles.join(','), 'tsstack.working-dir': model.workingDir };
}

/** Networks a service joins: its own list, or the project's `default` when it names none. */
export function serviceNetworks(svc: ServiceSpec): string[] {
  if (svc.network_mode) return [];
  const keys = Object.keys(svc.networks ?? {});
  return keys.length ? keys : ['default'];
}

export function desiredState(model: StackModel, images: Record<string, ImageInfo | undefined>, opts: DesiredOptions = {}): DesiredState {
  const project = model.name;
  const services: Record<string, DesiredService> = {};
  const files: GeneratedFile[] = [];
  const usedNetworks = new Set<string>();
  for (const name of Object.keys(model.services).sort()) {
    const svc = model.services[name];
    const image = serviceImage(project, name, svc);
    const info = images[image];
    const replicas = replicasOf(name, svc, opts.scale);
    for (const k of serviceNetworks(svc)) usedNetworks.add(k);
    const containers: DesiredContainer[] = [];
    for (let n = 1; n <= replicas; n++) {
      const config = containerConfig(model, name, svc, n, image, info, opts, files);
      containers.push({ id: `service:${name}:${n}`, service: name, number: n, name: config.name, config, hash: configHash(hashedConfig(config)) });
    }
    services[name] = {
      name, replicas, image, build: svc.build, pullPolicy: svc.pull_policy, imageMissing: !info,
      dependsOn: implicitDependencies(svc), oneShot: restartOf(svc) === 'no', containers,
    };
  }
  const networks: DesiredNetwork[] = [];
  const netKeys = new Set([...Object.keys(model.networks), ...usedNetworks]);
  for (const key of [...netKeys].sort()) {
    const spec = model.networks[key];
    if (!spec && key !== 'default') continue; // unknown reference: stack/ reports it
    const realName = spec?.name ?? `${project}_${key}`;
    const ipam = spec?.ipam?.config?.[0];
    networks.push({
      key,
      external: !!spec?.external,
      spec: {
        name: realName,
        labels: { ...(spec?.labels ?? {}), [LABEL.project]: project, [LABEL.network]: key },
        internal: spec?.internal || undefined,
        subnet: ipam?.subnet,
        gateway: ipam?.gateway,
      },
    });
  }
  const volumes: DesiredVolume[] = [];
  for (const key of Object.keys(model.volumes).sort()) {
    const v = model.volumes[key];
    volumes.push({ key, name: v.name, external: !!v.external, labels: { ...v.labels, [LABEL.project]: project, [LABEL.volume]: key } });
  }
  // Anonymous volumes named by the containers' mounts.
  for (const s of Object.values(services)) {
    for (const c of s.containers) {
      for (const m of c.config.volumes) {
        if (m.type === 'volume' && m.source.startsWith(`${project}_anon_`) && !volumes.some((v) => v.name === m.source)) {
          volumes.push({ key: m.source, name: m.source, external: false, labels: { [LABEL.project]: project, [LABEL.volume]: m.source, [LABEL.service]: s.name, 'tsstack.anonymous': 'true' } });
        }
      }
    }
  }
  volumes.sort((a, b) => cmp(a.key, b.key));
  return { project, services, networks, volumes, files };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `links: [svc, svc:alias]`, when the model carries them (compose's legacy links), with the alias defaulted. */
export function linksOf(svc: ServiceSpec): { service: string; alias: string }[] {
  return (svc.links ?? []).map((l) => ({ service: l.service, alias: l.alias ?? l.service }));
}

const linkAliasMaps = new WeakMap<StackModel['services'], Map<string, string[]>>();

/**
 * The aliases other services' `links` give each service (`other:alias`, the alias not the service's own name),
 * found once per set of services: looked for per container, a plan grew as the square of the services.
 */
function linkAliasesOf(services: StackModel['services']): Map<string, string[]> {
  let m = linkAliasMaps.get(services);
  if (m) return m;
  m = new Map();
  for (const other of Object.values(services)) {
    for (const l of linksOf(other)) {
      if (l.alias === l.service) continue;
      let list = m.get(l.service);
      if (!list) m.set(l.service, (list = []));
      list.push(l.alias);
    }
  }
  linkAliasMaps.set(services, m);
  return m;
}

/** depends_on plus what `service:x` references imply (network_mode, pid, ipc, links, volumes_from: x started first). */
export function implicitDependencies(svc: ServiceSpec): Record<string, DependsOn> {
  const out = { ...(svc.depends_on ?? {}) };
  for (const ref of serviceRefs(svc)) out[ref.service] ??= { condition: 'service_started', required: true };
  return out;
}

/** A `service:` reference as its first container (`container:<name>`), for the engine; others as written. */
function resolveMode(model: StackModel, m: string | Ref | undefined): string | undefined {
  if (m === undefined) return undefined;
  if (typeof m === 'object' && m.kind === 'service') return `container:${containerName(model.name, m.name, 1, model.services[m.name])}`;
  return formatMode(m);
}

export function restartOf(svc: ServiceSpec): RestartPolicy {
  if (svc.restart) return svc.restart;
  const rp = svc.deploy?.restart_policy;
  if (rp?.condition === 'any') return 'always';
  if (rp?.condition === 'on-failure') return rp.max_attempts ? `on-failure:${rp.max_attempts}` : 'on-failure';
  return 'no';
}

function parseEnvList(list: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of list ?? []) {
    const i = e.indexOf('=');
    if (i > 0) out[e.slice(0, i)] = e.slice(i + 1);
  }
  return out;
}

/** Host ports for replica `n`: a published range gives each replica the next port of it. */
export function publishedPorts(svc: ServiceSpec, n: number): PublishedPort[] {
  const out: PublishedPort[] = [];
  for (const p of svc.ports ?? []) {
    let hostPort = 0;
    if (p.published) {
      const { start, end } = p.published;
      hostPort = start + (n - 1) <= end ? start + (n - 1) : start;
    }
    const port: PublishedPort = { hostPort, containerPort: p.target, protocol: p.protocol ?? 'tcp' };
    if (p.host_ip) port.hostIp = p.host_ip;
    out.push(port);
  }
  return out;
}

function mountsOf(model: StackModel, name: string, svc: ServiceSpec, opts: DesiredOptions, files: GeneratedFile[]): Mount[] {
  const project = model.name;
  const out: Mount[] = [];
  for (const v of svc.volumes ?? []) {
    if (v.type === 'bind') out.push(clean({ type: 'bind', source: v.source, target: v.target, readOnly: v.read_only || undefined, propagation: v.bind?.propagation }));
    else if (v.type === 'volume') {
      const source = v.source ? (model.volumes[v.source]?.name ?? v.source) : `${project}_anon_${name}_${shortHash(v.target)}`;
      out.push(clean({ type: 'volume', source, target: v.target, readOnly: v.read_only || undefined }));
    } else out.push(clean({ type: 'tmpfs', target: v.target, size: v.tmpfs?.size, mode: v.tmpfs?.mode, readOnly: v.read_only || undefined }));
  }
  for (const t of svc.tmpfs ?? []) out.push(clean({ type: 'tmpfs', target: t.target, size: t.size, mode: t.mode, uid: t.uid, gid: t.gid, nrInodes: t.nrInodes, flags: t.flags }));
  const fileObjects = (kind: 'secrets' | 'configs') => {
    for (const ref of svc[kind] ?? []) {
      const obj = model[kind][ref.source];
      if (!obj) continue;
      const target = ref.target?.startsWith('/') ? ref.target : kind === 'secrets' ? `/run/secrets/${ref.target ?? ref.source}` : `/${ref.target ?? ref.source}`;
      let source = obj.file;
      if (!source) {
        // content from the stack or the environment: a file of our own, named by its content so a change recreates
        const content = obj.content ?? (obj.environment ? opts.env?.[obj.environment] ?? '' : '');
        const path = `${opts.filesDir ?? `/var/lib/tsstack/projects/${project}`}/${kind}/${ref.source}-${shortHash(content)}`;
        if (!files.some((f) => f.path === path)) files.push({ path, content });
        source = path;
      }
      // The engine copies it for this container, owned by uid/gid (default: the container's user). Secrets are
      // 0400 unless asked otherwise (other users in the container do not read them); configs 0444, as Compose.
      const file = clean({ uid: ref.uid !== undefined ? Number(ref.uid) : undefined, gid: ref.gid !== undefined ? Number(ref.gid) : undefined, mode: ref.mode ?? (kind === 'secrets' ? 0o400 : 0o444) });
      out.push({ type: 'bind', source, target, readOnly: true, file });
    }
  };
  fileObjects('secrets');
  fileObjects('configs');
  return out;
}

/**
 * An image's `VOLUME`s not covered by a mount of the service get an anonymous volume each, as Compose
 * does, so what the service writes there outlives a recreate. Named from the container (service and
 * replica number) and the path, it is found again by the next container of that replica; `down -v`
 * removes it with the project's other volumes. Paths come from the image: only absolute ones, normalized.
 */
export function withImageVolumes(mounts: Mount[], imageVolumes: Record<string, object> | undefined, prefix: string): Mount[] {
  const norm = (p: string) => posix.normalize(p).replace(/(.)\/+$/, '$1');
  const taken = new Set(mounts.map((m) => norm(m.target)));
  const out = [...mounts];
  for (const raw of Object.keys(imageVolumes ?? {}).sort()) {
    if (!raw.startsWith('/')) continue;
    const target = norm(raw);
    if (target === '/' || taken.has(target)) continue;
    taken.add(target);
    out.push({ type: 'volume', source: `${prefix}_${shortHash(target)}`, target });
  }
  return out;
}

function shortHash(s: string): string {
  return configHash(s).slice(7, 19);
}

function clean<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

function containerConfig(model: StackModel, name: string, svc: ServiceSpec, n: number, image: string, info: ImageInfo | undefined, opts: DesiredOptions, files: GeneratedFile[]): ContainerConfig {
  const project = model.name;
  const ic = info?.config ?? {};
  let argv: string[];
  if (svc.entrypoint != null) argv = [...svc.entrypoint, ...(svc.command ?? [])];
  else argv = [...(ic.Entrypoint ?? []), ...(svc.command ?? ic.Cmd ?? [])];
  const environment = parseEnvList(ic.Env);
  for (const [k, v] of Object.entries(svc.environment ?? {})) {
    if (v === null) delete environment[k];
    else environment[k] = v;
  }
  const cname = containerName(project, name, n, svc);
  const networks: ContainerConfig['networks'] = {};
  // A link alias (`other:alias` on another service) is answered for this service on the networks they share.
  const linkAliases = linkAliasesOf(model.services).get(name) ?? [];
  for (const key of serviceNetworks(svc)) {
    const att = svc.networks?.[key] ?? {};
    const real = model.networks[key]?.name ?? `${project}_${key}`;
    const spec = model.networks[key];
    networks[real] = clean({
      aliases: [...new Set([name, ...(att.aliases ?? []), ...linkAliases])].sort(), ipv4_address: att.ipv4_address, priority: att.priority ?? 0,
      subnet: spec?.external ? undefined : spec?.ipam?.config?.[0]?.subnet, internal: spec?.external ? undefined : spec?.internal || undefined,
    });
  }
  const networkMode = resolveMode(model, svc.network_mode);
  const lim = svc.deploy?.resources?.limits ?? {};
  const resources = clean({
    memory: lim.memory ?? svc.mem_limit, memorySwap: svc.memswap_limit, cpus: lim.cpus ?? svc.cpus,
    cpuShares: svc.cpu_shares, cpuset: svc.cpuset, pids: lim.pids ?? svc.pids_limit, shmSize: svc.shm_size, oomScoreAdj: svc.oom_score_adj,
    ...resourceExtras(svc),
  });
  const nonEmpty = <T>(a: T[] | undefined) => (a && a.length ? a : undefined);
  const nonEmptyObj = <T extends object>(o: T | undefined) => (o && Object.keys(o).length ? o : undefined);
  return clean({
    name: cname,
    image,
    imageId: info?.id,
    command: argv,
    environment,
    working_dir: svc.working_dir ?? (ic.WorkingDir || '/'),
    user: svc.user ?? (ic.User || undefined),
    group_add: nonEmpty(svc.group_add),
    hostname: svc.hostname ?? defaultHostname(cname),
    domainname: svc.domainname,
    labels: { ...(svc.labels ?? {}) },
    ports: publishedPorts(svc, n),
    volumes: withImageVolumes(mountsOf(model, name, svc, opts, files), ic.Volumes, `${project}_anon_${name}-${n}`),
    networks,
    network_mode: networkMode,
    ...isolationOf(model, svc),
    devices: nonEmpty(svc.devices),
    device_cgroup_rules: nonEmpty(svc.device_cgroup_rules),
    restart: restartOf(svc),
    stop_signal: svc.stop_signal ?? ic.StopSignal ?? 'SIGTERM',
    stop_grace_period: svc.stop_grace_period ?? 10_000,
    healthcheck: effectiveHealthcheck(svc.healthcheck, info?.config.Healthcheck),
    resources,
    tty: svc.tty || undefined,
    stdin_open: svc.stdin_open || undefined,
    init: svc.init || undefined,
    read_only: svc.read_only || undefined,
    privileged: svc.privileged || undefined,
    cap_add: nonEmpty(svc.cap_add),
    cap_drop: nonEmpty(svc.cap_drop),
    extra_hosts: nonEmpty(svc.extra_hosts),
    dns: nonEmpty(svc.dns),
    dns_search: nonEmpty(svc.dns_search),
    sysctls: nonEmptyObj(svc.sysctls),
    ulimits: nonEmptyObj(svc.ulimits),
    dns_opt: nonEmpty(svc.dns_opt),
    logging: svc.logging && (svc.logging.driver !== undefined || nonEmptyObj(svc.logging.options)) ? svc.logging : undefined,
    runtime: opts.runtime,
    post_start: nonEmpty(svc.post_start),
    pre_stop: nonEmpty(svc.pre_stop),
    volumes_from: nonEmpty(svc.volumes_from),
    volumes_from_mounts: nonEmpty(borrowedMounts(model, name, svc, opts, files)),
    volumes_from_containers: nonEmpty(outsideVolumesFrom(model, svc)),
  });
}

/** `volumes_from` service references the model does not hold, as `container:<project>-<service>-1[:mode]`. */
function outsideVolumesFrom(model: StackModel, svc: ServiceSpec): VolumesFromEntry[] {
  const out: VolumesFromEntry[] = [];
  for (const r of svc.volumes_from ?? []) {
    if (r.kind !== 'service' || model.services[r.name]) continue;
    out.push(volumesFromEntry({ kind: 'container', name: containerName(model.name, r.name, 1) }, r.readOnly));
  }
  return out;
}

/**
 * The binds and named/anonymous volumes `volumes_from: [service]` gives: those of the other service's
 * (first) container — its `volumes:` and, in turn, what its own service references give — not tmpfs,
 * secrets or configs; `:ro`/`:rw` override their mode. A target the service mounts itself is left to it.
 */
function borrowedMounts(model: StackModel, name: string, svc: ServiceSpec, opts: DesiredOptions, files: GeneratedFile[], seen = new Set([name])): Mount[] {
  const out: Mount[] = [];
  const taken = new Set((svc.volumes ?? []).map((v) => v.target));
  for (const ref of svc.volumes_from ?? []) {
    if (ref.kind !== 'service' || seen.has(ref.name)) continue;
    const other = model.services[ref.name];
    if (!other) continue;
    const own = mountsOf(model, ref.name, { ...other, tmpfs: [], secrets: [], configs: [] }, opts, files);
    const theirs = [...own, ...borrowedMounts(model, ref.name, other, opts, files, new Set([...seen, ref.name]))];
    for (const m of theirs) {
      if (m.type === 'tmpfs' || taken.has(m.target)) continue;
      taken.add(m.target);
      const copy = { ...m };
      if (ref.readOnly) copy.readOnly = true;
      else if (ref.readOnly === false || !copy.readOnly) delete copy.readOnly;
      out.push(copy);
    }
  }
  return out;
}

/** cpu_quota/cpu_period and the memory reservation (`mem_reservation`, else `deploy.resources.reservations.memory`). */
function resourceExtras(svc: ServiceSpec): { cpuQuota?: number; cpuPeriod?: number; memoryReservation?: number } {
  return { cpuQuota: svc.cpu_quota, cpuPeriod: svc.cpu_period, memoryReservation: svc.mem_reservation ?? svc.deploy?.resources?.reservations?.memory };
}

/** Docker's `local` driver rotates at 20 MiB, keeping 5 files, unless told otherwise. */
const LOCAL_DEFAULTS = { maxSize: 20 * 1024 * 1024, maxFiles: 5 };

/**
 * What the monitor does with a container's output: `none` keeps no log; json-file, local and the drivers
 * tsstack does not have (stack/ warned) write its JSON-lines log, rotated at `max-size` keeping `max-file`
 * files (absent: the monitor's defaults; `max-size: -1`: no rotation).
 */
export function logSettings(l: LoggingSpec | undefined): { driver: 'json-file' | 'none'; maxSize?: number; maxFiles?: number } {
  const driver = l?.driver ?? 'json-file';
  if (driver === 'none') return { driver: 'none' };
  const o = l?.options ?? {};
  const known = driver === 'json-file' || driver === 'local';
  const out: { driver: 'json-file'; maxSize?: number; maxFiles?: number } = driver === 'local' ? { driver: 'json-file', ...LOCAL_DEFAULTS } : { driver: 'json-file' };
  if (!known) return out;
  const size = o['max-size'];
  if (size !== undefined && size !== '') out.maxSize = size.trim() === '-1' ? 0 : parseBytes(size);
  const files = o['max-file'];
  if (files !== undefined && files !== '') out.maxFiles = Number(files);
  return out;
}

/** pid/ipc/uts, the applied security_opt entries and cgroup_parent, as hashed (absent when not set). */
function isolationOf(model: StackModel, svc: ServiceSpec): Pick<ContainerConfig, 'pid' | 'ipc' | 'uts' | 'no_new_privileges' | 'seccomp' | 'seccomp_sha256' | 'cgroup_parent'> {
  const share = (v: ServiceSpec['pid']) => (v === 'private' || v === 'shareable' ? undefined : resolveMode(model, v));
  const sec = appliedSecurityOpts(svc.security_opt);
  return clean({
    pid: share(svc.pid), ipc: share(svc.ipc), uts: svc.uts,
    no_new_privileges: sec.noNewPrivileges || undefined, seccomp: sec.seccomp, seccomp_sha256: seccompProfileDigest(sec.seccomp), cgroup_parent: svc.cgroup_parent,
  });
}

/**
 * ContainerConfig keys the engine takes as they are, under its own name. With DERIVED and HASH_ONLY they
 * account for every key (checked by the compiler), so a key added to the config is also given to the engine.
 */
const AS_IS = {
  name: 'name', image: 'image', command: 'args', working_dir: 'cwd', user: 'user', group_add: 'groupAdd',
  hostname: 'hostname', domainname: 'domainname', tty: 'tty', stdin_open: 'stdinOpen', init: 'init',
  read_only: 'readOnlyRoot', privileged: 'privileged', cap_add: 'capAdd', cap_drop: 'capDrop',
  no_new_privileges: 'noNewPrivileges', seccomp: 'seccomp', cgroup_parent: 'cgroupParent', devices: 'devices',
  device_cgroup_rules: 'deviceCgroupRules', ports: 'ports', extra_hosts: 'extraHosts', dns: 'dns', dns_search: 'dnsSearch',
  sysctls: 'sysctls', ulimits: 'ulimits', dns_opt: 'dnsOptions', resources: 'resources', restart: 'restart',
  stop_signal: 'stopSignal', stop_grace_period: 'stopGracePeriod', healthcheck: 'healthcheck', runtime: 'runtime',
} as const satisfies Partial<Record<keyof ContainerConfig, keyof ContainerCreateSpec>>;

/** Keys the engine gets in another shape (computed in createSpec). */
const DERIVED = [
  'imageId', 'environment', 'labels', 'volumes', 'volumes_from', 'volumes_from_mounts', 'volumes_from_containers', 'networks',
  'network_mode', 'pid', 'ipc', 'uts', 'logging', 'post_start', 'pre_stop',
] as const;
/** Keys hashed only: a change recreates the container, but the engine has it from elsewhere. */
const HASH_ONLY = ['seccomp_sha256'] as const;
type Unaccounted = Exclude<keyof ContainerConfig, keyof typeof AS_IS | (typeof DERIVED)[number] | (typeof HASH_ONLY)[number]>;
const everyKeyAccounted: [Unaccounted] extends [never] ? true : Unaccounted = true;
/** An AS_IS key whose value the engine field cannot take (none: `true`). */
type Mistyped = { [K in keyof typeof AS_IS]-?: NonNullable<ContainerConfig[K]> extends NonNullable<ContainerCreateSpec[(typeof AS_IS)[K]]> ? never : K }[keyof typeof AS_IS];
const asIsTypesAgree: [Mistyped] extends [never] ? true : Mistyped = true;
void everyKeyAccounted, asIsTypesAgree;

/**
 * The config as hashed and kept in the container's label: parsed entries in the form they are written
 * (so containers made before the model was parsed keep their hash, and the label diffs field by field).
 */
export function hashedConfig(k: ContainerConfig): object {
  const written = (l: VolumesFromEntry[] | undefined) => l?.map((e) => e.written);
  return {
    ...k,
    device_cgroup_rules: k.device_cgroup_rules?.map(formatCgroupRule),
    volumes_from: written(k.volumes_from),
    volumes_from_containers: written(k.volumes_from_containers),
  };
}

/** The engine's create request for a desired container (labels carry the hash and the config). */
export function createSpec(project: string, c: DesiredContainer, svc: DesiredService, extraLabels: Labels = {}): ContainerCreateSpec {
  const k = c.config;
  const spec: Record<string, unknown> = {};
  for (const [from, to] of Object.entries(AS_IS)) spec[to] = k[from as keyof typeof AS_IS];
  const endpoints: EndpointSpec[] = Object.entries(k.networks)
    .sort(([a, x], [b, y]) => y.priority - x.priority || cmp(a, b))
    .map(([network, a]) => clean({ network, aliases: a.aliases, ipv4Address: a.ipv4_address }));
  const labels: Labels = {
    ...k.labels,
    ...extraLabels,
    [LABEL.project]: project,
    [LABEL.service]: c.service,
    [LABEL.number]: String(c.number),
    [LABEL.configHash]: c.hash,
    [LABEL.oneoff]: 'False',
    [RLABEL.config]: canonicalJson(hashedConfig(k)),
    [RLABEL.dependsOn]: Object.keys(svc.dependsOn).sort().join(','),
  };
  const nm = k.network_mode;
  const borrowed = [...(k.volumes_from ?? []), ...(k.volumes_from_containers ?? [])].filter((r) => r.kind === 'container');
  return clean({
    ...(spec as Pick<ContainerCreateSpec, (typeof AS_IS)[keyof typeof AS_IS]>),
    imageId: k.imageId ?? '',
    labels,
    env: Object.keys(k.environment).sort().map((e) => `${e}=${k.environment[e]}`),
    mounts: k.volumes_from_mounts ? [...k.volumes, ...k.volumes_from_mounts] : k.volumes,
    // `volumes_from: [container:NAME]` entries, for the engine to resolve at create
    volumesFrom: borrowed.length ? borrowed.map((r) => clean({ container: r.name, readOnly: r.readOnly })) : undefined,
    endpoints,
    networkMode: nm === 'none' || nm === 'host' || nm?.startsWith('container:') ? (nm as ContainerCreateSpec['networkMode']) : undefined,
    pidMode: k.pid as ContainerCreateSpec['pidMode'],
    ipcMode: k.ipc as ContainerCreateSpec['ipcMode'],
    utsMode: k.uts,
    ...logCreateFields(k.logging),
    postStart: engineHooks(k.post_start),
    preStop: engineHooks(k.pre_stop),
  });
}

/** The model's hooks as the engine runs them (environment as sorted `K=V`). */
export function engineHooks(hooks: ServiceHook[] | undefined): LifecycleHook[] | undefined {
  if (!hooks?.length) return undefined;
  return hooks.map((h) => clean({
    argv: h.command, user: h.user, privileged: h.privileged || undefined, cwd: h.working_dir,
    env: h.environment && Object.keys(h.environment).length ? Object.keys(h.environment).sort().map((k) => `${k}=${h.environment![k]}`) : undefined,
  }));
}

/** ContainerCreateSpec's log fields: nothing when the default (the monitor's rotation) applies. */
function logCreateFields(l: LoggingSpec | undefined): Pick<ContainerCreateSpec, 'logDriver' | 'logMaxSize' | 'logMaxFiles'> {
  const s = logSettings(l);
  if (s.driver === 'none') return { logDriver: 'none' };
  return { logMaxSize: s.maxSize, logMaxFiles: s.maxFiles };
}
