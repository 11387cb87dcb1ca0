// The stack model → the Swarm objects it wants: services, overlay networks,
// secrets and configs, as Docker Engine API JSON. Pure: file contents, source
// lines, the images' pushed names and whether the Swarm has IPVS come in as
// options. Every key Swarm cannot carry becomes a warning with file and line.

import { createHash } from 'node:crypto';
import type { FileObjectRef, FileObjectSpec, ServiceSpec, StackModel, UpdateConfig } from '../../model/types.js';
import { TsstackError } from '../../util/errors.js';
import {
  HASH_LABEL, OBJECT_LABEL, PROJECT_LABEL, SERVICE_LABEL,
  type Desired, type DesiredFileObject, type DesiredNetwork, type DesiredService, type JsonObject, type SwarmWarning,
} from './types.js';

export interface MapOptions {
  /** Contents of secret/config files (absolute path → bytes); undefined when unreadable. */
  readFile?: (path: string) => Buffer | undefined;
  /** Where a stack key was written. */
  locate?: (path: readonly (string | number)[]) => { file?: string; line?: number };
  /** Whether the Swarm's nodes have IPVS (routing mesh, VIPs). Without it: DNS round-robin and host-mode ports. */
  ipvs: boolean;
  /** Service key → the image reference the nodes pull (pushed, pinned by digest where known); default the service's image:. */
  images?: Record<string, string>;
  /** Service keys whose image is built here but has no registry to go to (nodes must already have it). */
  unpushedBuilds?: string[];
}

/** Swarm's limit on secret and config names. */
const MAX_OBJECT_NAME = 64;

const NS_PER_MS = 1_000_000;

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** JSON with keys sorted, so equal specs hash equal. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Drops undefined, empty objects and empty arrays, so a spec says only what it sets (and compares with what the Swarm returns). */
export function prune<T>(v: T): T {
  if (Array.isArray(v)) return v.map(prune) as T;
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const p = prune(x);
      if (p === undefined) continue;
      if (Array.isArray(p) && !p.length) continue;
      if (p && typeof p === 'object' && !Array.isArray(p) && !Object.keys(p).length) continue;
      out[k] = p;
    }
    return out as T;
  }
  return v;
}

class Ctx {
  readonly warnings: SwarmWarning[] = [];
  constructor(readonly model: StackModel, readonly opts: MapOptions) {}
  warn(path: (string | number)[], message: string): void {
    let dotted = '';
    for (const p of path) dotted += typeof p === 'number' ? `[${p}]` : dotted ? `.${p}` : p;
    this.warnings.push({ ...(this.opts.locate?.(path) ?? {}), path: dotted, message });
  }
}

export function mapStack(model: StackModel, opts: MapOptions): Desired {
  const ctx = new Ctx(model, opts);
  const networks = mapNetworks(ctx);
  const secrets = fileObjects(ctx, 'secret');
  const configs = fileObjects(ctx, 'config');
  const services: DesiredService[] = [];
  for (const key of Object.keys(model.services).sort()) services.push(mapService(ctx, key, networks, secrets, configs));
  for (const key of Object.keys(model.volumes).sort()) {
    const v = model.volumes[key]!;
    if (!v.external && Object.values(model.services).some((s) => s.volumes.some((m) => m.type === 'volume' && m.source === key))) {
      ctx.warn(['volumes', key], `a Swarm volume is per node: each node that runs a task gets its own empty ${v.name}, and data does not follow a task to another node (use a volume driver that shares, or placement constraints)`);
    }
  }
  return { project: model.name, services, networks, secrets, configs, warnings: ctx.warnings };
}

function projectLabels(model: StackModel): Record<string, string> {
  return { [PROJECT_LABEL]: model.name, 'com.docker.stack.namespace': model.name };
}

function mapNetworks(ctx: Ctx): DesiredNetwork[] {
  const out: DesiredNetwork[] = [];
  for (const key of Object.keys(ctx.model.networks).sort()) {
    const n = ctx.model.networks[key]!;
    if (n.external) {
      out.push({ key, name: n.name });
      continue;
    }
    if (n.driver && n.driver !== 'overlay') ctx.warn(['networks', key, 'driver'], `driver ${n.driver} spans one host only: deployed as an overlay network`);
    const ipam = n.ipam?.config.length
      ? { Driver: n.ipam.driver ?? 'default', Config: n.ipam.config.map((c) => prune({ Subnet: c.subnet, Gateway: c.gateway, IPRange: c.ip_range })) }
      : undefined;
    out.push({
      key, name: n.name,
      create: prune({
        Name: n.name, Driver: 'overlay', CheckDuplicate: true,
        // attachable: `docker run --network` and one-off tasks can join it, as on one host
        Attachable: n.attachable ?? true,
        Internal: n.internal || undefined, EnableIPv6: n.enable_ipv6 || undefined,
        IPAM: ipam, Options: n.driver_opts,
        Labels: { ...n.labels, ...projectLabels(ctx.model) },
      }) as JsonObject,
    });
  }
  return out;
}

function fileObjects(ctx: Ctx, kind: 'secret' | 'config'): DesiredFileObject[] {
  const defs: Record<string, FileObjectSpec> = kind === 'secret' ? ctx.model.secrets : ctx.model.configs;
  const top = kind === 'secret' ? 'secrets' : 'configs';
  const out: DesiredFileObject[] = [];
  for (const key of Object.keys(defs).sort()) {
    const d = defs[key]!;
    if (d.external) {
      out.push({ kind, key, name: d.name, external: true });
      continue;
    }
    let data: Buffer | undefined;
    if (d.content !== undefined) data = Buffer.from(d.content);
    else if (d.file) {
      data = ctx.opts.readFile?.(d.file);
      if (!data) throw new TsstackError('SPEC', `${kind} ${key}: cannot read ${d.file}`, { location: { ...(ctx.opts.locate?.([top, key, 'file']) ?? {}), path: `${top}.${key}.file` }, hint: 'the file must exist and be readable where tsstack deploy runs' });
    } else data = Buffer.alloc(0);
    // the content hash is in the name: a changed file makes a new object, and only the services using it roll
    const hash8 = sha256(data).slice(0, 8);
    const base = `${ctx.model.name}_${key}`.slice(0, MAX_OBJECT_NAME - 9);
    const name = `${base}_${hash8}`;
    out.push({
      kind, key, name, external: false,
      create: { Name: name, Labels: { ...projectLabels(ctx.model), [OBJECT_LABEL]: key }, Data: data.toString('base64') },
    });
  }
  return out;
}

const ns = (ms: number | undefined): number | undefined => (ms === undefined ? undefined : ms * NS_PER_MS);

/** Keys of a service with no Swarm form at all: (key, why). */
const NO_EQUIVALENT: [keyof ServiceSpec, string][] = [
  ['privileged', 'Swarm services cannot run privileged'],
  ['devices', 'Swarm services cannot map host devices'],
  ['device_cgroup_rules', 'Swarm services have no device cgroup rules'],
  ['network_mode', 'Swarm services join networks, not another container\'s or the host\'s network mode'],
  ['container_name', 'Swarm names each task itself (<service>.<slot>.<id>)'],
  ['pid', 'Swarm services cannot share a pid namespace'],
  ['ipc', 'Swarm services cannot share an ipc namespace'],
  ['uts', 'Swarm services cannot share a uts namespace'],
  ['security_opt', 'Swarm services take no security options'],
  ['cgroup_parent', 'Swarm places task cgroups itself'],
  ['cpu_shares', 'Swarm has no cpu shares (use deploy.resources)'],
  ['cpuset', 'Swarm has no cpuset'],
  ['cpu_quota', 'Swarm has no CFS quota (use deploy.resources.limits.cpus)'],
  ['cpu_period', 'Swarm has no CFS period'],
  ['mem_reservation', 'Swarm has no soft memory limit (deploy.resources.reservations.memory is a scheduling reservation)'],
  ['memswap_limit', 'Swarm has no swap limit'],
  ['oom_score_adj', 'Swarm has no oom_score_adj'],
  ['shm_size', 'Swarm has no shm size (mount a tmpfs at /dev/shm)'],
  ['volumes_from', 'Swarm services cannot mount another container\'s volumes'],
  ['post_start', 'Swarm has no lifecycle hooks'],
  ['pre_stop', 'Swarm has no lifecycle hooks'],
  ['domainname', 'Swarm sets no domain name'],
];

function mapService(ctx: Ctx, key: string, networks: DesiredNetwork[], secrets: DesiredFileObject[], configs: DesiredFileObject[]): DesiredService {
  const m = ctx.model;
  const s = m.services[key]!;
  const at = (...p: (string | number)[]) => ['services', key, ...p];
  for (const [k, why] of NO_EQUIVALENT) {
    const v = s[k];
    if (v === undefined || v === false || (Array.isArray(v) && !v.length)) continue;
    ctx.warn(at(k), `${why}; ignored`);
  }
  const dependsOn = [...new Set([...Object.keys(s.depends_on), ...(s.links ?? []).map((l) => l.service)])].filter((d) => d in m.services && d !== key).sort();
  for (const [dep, d] of Object.entries(s.depends_on)) {
    if (!(dep in m.services)) continue;
    const how = d.condition === 'service_healthy' ? 'until they are healthy' : d.condition === 'service_completed_successfully' ? 'until they run (Swarm services do not complete)' : 'until they run';
    ctx.warn(at('depends_on', dep), `Swarm has no depends_on: tsstack deploys ${dep} first and waits ${how}; Swarm does not keep that order when it restarts or reschedules tasks`);
  }
  if (s.links?.length) ctx.warn(at('links'), 'links become network aliases and an order of deployment');
  if (ctx.opts.unpushedBuilds?.includes(key)) ctx.warn(at('build'), 'built here but its image name names no registry (and no --registry was given): the nodes must already have the image');
  if (s.platform) ctx.warn(at('platform'), 'the image must be for every node\'s platform: Swarm does not pick one by this key');
  if (s.develop) ctx.warn(at('develop'), 'develop.watch applies to tsstack up --watch only');

  // a build without image: is named as the builds of `up` name it (prepareImages pushes it under that name)
  const image = ctx.opts.images?.[key] ?? s.image ?? (s.build ? `${m.name}-${key}` : undefined);
  if (!image) throw new TsstackError('SPEC', `service ${key} has neither an image: nor a build:`, { location: { ...(ctx.opts.locate?.(at()) ?? {}), path: `services.${key}` } });

  const d = s.deploy ?? {};
  const env = Object.entries(s.environment).filter(([, v]) => v !== null).map(([k, v]) => `${k}=${v}`).sort();
  const mounts = serviceMounts(ctx, key, s);

  const fileRefs = (kind: 'secret' | 'config', refs: FileObjectRef[], objs: DesiredFileObject[]) => refs.map((r, i) => {
    const o = objs.find((x) => x.key === r.source);
    if (!o) throw new TsstackError('SPEC', `service ${key} uses ${kind} ${r.source}, which is not defined`, { location: { ...(ctx.opts.locate?.(at(`${kind}s`, i)) ?? {}), path: `services.${key}.${kind}s[${i}]` } });
    // secrets: a relative target is under /run/secrets; configs: default /<source>
    const target = r.target ?? (kind === 'secret' ? r.source : `/${r.source}`);
    const file = { Name: target, UID: r.uid ?? '0', GID: r.gid ?? '0', Mode: r.mode ?? 0o444 };
    return kind === 'secret' ? { File: file, SecretName: o.name } : { File: file, ConfigName: o.name };
  });

  let endpointMode = d.endpoint_mode ?? 'vip';
  if (!ctx.opts.ipvs && endpointMode === 'vip') {
    if (d.endpoint_mode === 'vip') ctx.warn(at('deploy', 'endpoint_mode'), 'this Swarm has no IPVS, which virtual IPs need: deployed with dnsrr');
    endpointMode = 'dnsrr';
  }
  const ports = s.ports.flatMap((p, i) => {
    if (p.host_ip) ctx.warn(at('ports', i), `Swarm publishes on every address of a node: host_ip ${p.host_ip} ignored`);
    let published: number | undefined;
    if (p.published !== undefined) {
      if (p.published.start !== p.published.end) {
        ctx.warn(at('ports', i), `Swarm publishes one port per target: the range ${p.published.start}-${p.published.end} is not published`);
        return [];
      }
      published = p.published.start;
    }
    // a DNS round-robin service cannot publish through the routing mesh, and without IPVS the mesh does not answer
    const mode = p.mode === 'ingress' && (endpointMode === 'dnsrr' || !ctx.opts.ipvs) ? 'host' : p.mode;
    return [prune({ Protocol: p.protocol, TargetPort: p.target, PublishedPort: published, PublishMode: mode })];
  });

  const nets = Object.entries(s.networks).sort(([a], [b]) => a.localeCompare(b)).map(([nk, att]) => {
    const n = networks.find((x) => x.key === nk);
    if (att.ipv4_address || att.ipv6_address) ctx.warn(at('networks', nk), 'Swarm assigns task addresses itself: ipv4_address/ipv6_address ignored');
    const linkAliases = Object.values(m.services).flatMap((o) => (o.links ?? []).filter((l) => l.service === key && l.alias).map((l) => l.alias!));
    return { Target: n?.name ?? nk, Aliases: [...new Set([key, ...(att.aliases ?? []), ...linkAliases])] };
  });

  const limits = d.resources?.limits ?? {};
  const reservations = d.resources?.reservations ?? {};
  const cpus = limits.cpus ?? s.cpus;
  const restart = restartPolicy(s);
  const hc = s.healthcheck;
  const healthcheck = hc === undefined ? undefined
    : hc.disable || hc.test?.[0] === 'NONE' ? { Test: ['NONE'] }
      : prune({ Test: hc.test, Interval: ns(hc.interval), Timeout: ns(hc.timeout), Retries: hc.retries, StartPeriod: ns(hc.start_period) });
  if (hc?.start_interval !== undefined) ctx.warn(at('healthcheck', 'start_interval'), 'Swarm (API 1.41) has no start_interval; ignored');

  const spec = prune({
    Name: `${m.name}_${key}`,
    Labels: { ...(d.labels ?? {}), ...projectLabels(m), [SERVICE_LABEL]: key },
    TaskTemplate: {
      ContainerSpec: {
        Image: image,
        Labels: { ...s.labels, ...projectLabels(m), [SERVICE_LABEL]: key },
        Command: s.entrypoint ?? undefined,
        Args: s.command ?? undefined,
        Hostname: s.hostname,
        Env: env,
        Dir: s.working_dir,
        User: s.user,
        Groups: s.group_add,
        TTY: s.tty || undefined,
        OpenStdin: s.stdin_open || undefined,
        ReadOnly: s.read_only || undefined,
        Init: s.init,
        Mounts: mounts,
        StopSignal: s.stop_signal,
        StopGracePeriod: ns(s.stop_grace_period),
        Healthcheck: healthcheck,
        // extra_hosts are `host:ip`; the Engine API wants `ip host`
        Hosts: s.extra_hosts.map((h) => { const i = h.indexOf(':'); return `${h.slice(i + 1)} ${h.slice(0, i)}`; }),
        DNSConfig: { Nameservers: s.dns, Search: s.dns_search, Options: s.dns_opt },
        Secrets: fileRefs('secret', s.secrets, secrets),
        Configs: fileRefs('config', s.configs, configs),
        Sysctls: s.sysctls,
        CapabilityAdd: s.cap_add,
        CapabilityDrop: s.cap_drop,
        Ulimits: Object.entries(s.ulimits).sort(([a], [b]) => a.localeCompare(b)).map(([Name, u]) => ({ Name, Soft: u.soft, Hard: u.hard })),
      },
      Resources: {
        Limits: { NanoCPUs: cpus === undefined ? undefined : Math.round(cpus * 1e9), MemoryBytes: limits.memory ?? s.mem_limit, Pids: limits.pids ?? s.pids_limit },
        Reservations: { NanoCPUs: reservations.cpus === undefined ? undefined : Math.round(reservations.cpus * 1e9), MemoryBytes: reservations.memory },
      },
      RestartPolicy: restart,
      Placement: {
        Constraints: d.placement?.constraints,
        Preferences: d.placement?.preferences?.map((p) => ({ Spread: { SpreadDescriptor: p.spread } })),
        MaxReplicas: d.placement?.max_replicas_per_node,
      },
      Networks: nets,
      LogDriver: s.logging?.driver ? { Name: s.logging.driver, Options: s.logging.options } : undefined,
    },
    Mode: d.mode === 'global' ? { Global: {} } : { Replicated: { Replicas: d.replicas ?? s.scale ?? 1 } },
    // a failed update goes back to the running version (Docker's default would pause half-updated)
    UpdateConfig: updateConfig(d.update_config, 'rollback'),
    RollbackConfig: d.rollback_config ? updateConfig(d.rollback_config, 'pause') : undefined,
    EndpointSpec: { Mode: endpointMode, Ports: ports },
  }) as unknown as JsonObject;
  // Global mode's empty object is meaningful
  if (d.mode === 'global') spec.Mode = { Global: {} };
  const hash = sha256(canonical(spec));
  (spec.Labels as JsonObject)[HASH_LABEL] = hash;
  return { key, name: `${m.name}_${key}`, spec, hash, dependsOn };
}

function updateConfig(u: UpdateConfig | undefined, failureAction: string): JsonObject {
  return prune({
    Parallelism: u?.parallelism ?? 1,
    Delay: ns(u?.delay),
    FailureAction: u?.failure_action ?? failureAction,
    Monitor: ns(u?.monitor),
    MaxFailureRatio: u?.max_failure_ratio,
    Order: u?.order ?? 'stop-first',
  }) as JsonObject;
}

/** deploy.restart_policy, else the service's restart: (as docker stack deploy reads it). */
function restartPolicy(s: ServiceSpec): JsonObject | undefined {
  const rp = s.deploy?.restart_policy;
  if (rp) return prune({ Condition: rp.condition ?? 'any', Delay: ns(rp.delay), MaxAttempts: rp.max_attempts, Window: ns(rp.window) }) as JsonObject;
  if (!s.restart) return undefined;
  if (s.restart === 'no') return { Condition: 'none' };
  if (s.restart === 'always' || s.restart === 'unless-stopped') return { Condition: 'any' };
  const n = /^on-failure(?::(\d+))?$/.exec(s.restart);
  return n ? prune({ Condition: 'on-failure', MaxAttempts: n[1] === undefined ? undefined : Number(n[1]) }) as JsonObject : undefined;
}

function serviceMounts(ctx: Ctx, key: string, s: ServiceSpec): JsonObject[] {
  const at = (...p: (string | number)[]) => ['services', key, ...p];
  const out: JsonObject[] = [];
  s.volumes.forEach((v, i) => {
    if (v.type === 'bind') {
      ctx.warn(at('volumes', i), `a bind mount of ${v.source} needs that path on every node that may run the task`);
      out.push(prune({ Type: 'bind', Source: v.source, Target: v.target, ReadOnly: v.read_only || undefined, BindOptions: v.bind?.propagation ? { Propagation: v.bind.propagation } : undefined }) as JsonObject);
    } else if (v.type === 'volume') {
      const vol = v.source ? ctx.model.volumes[v.source] : undefined;
      out.push(prune({
        Type: 'volume', Source: vol?.name ?? v.source, Target: v.target, ReadOnly: v.read_only || undefined,
        VolumeOptions: vol && !vol.external
          ? { NoCopy: v.volume?.nocopy || undefined, Labels: { ...vol.labels, ...projectLabels(ctx.model) }, DriverConfig: vol.driver ? { Name: vol.driver, Options: vol.driver_opts } : undefined }
          : v.volume?.nocopy ? { NoCopy: true } : undefined,
      }) as JsonObject);
      if (v.volume?.subpath) ctx.warn(at('volumes', i), 'Swarm (API 1.41) has no volume subpath; the whole volume is mounted');
    } else {
      out.push(prune({ Type: 'tmpfs', Target: v.target, ReadOnly: v.read_only || undefined, TmpfsOptions: { SizeBytes: v.tmpfs?.size, Mode: v.tmpfs?.mode } }) as JsonObject);
    }
  });
  for (const t of s.tmpfs) {
    const dropped = [t.uid !== undefined && 'uid', t.gid !== undefined && 'gid', t.nrInodes !== undefined && 'nr_inodes', ...(t.flags ?? [])].filter(Boolean);
    if (dropped.length) ctx.warn(at('tmpfs'), `tmpfs options ${dropped.join(', ')} of ${t.target}: a Swarm tmpfs takes only size and mode; not deployed`);
    out.push(prune({ Type: 'tmpfs', Target: t.target, TmpfsOptions: t.size !== undefined || t.mode !== undefined ? { SizeBytes: t.size, Mode: t.mode } : undefined }) as JsonObject);
  }
  return out;
}
