// Raw (interpolated, merged, validated) stack data → the typed long form of
// model/types.ts. Every short syntax is expanded here; keys Compose knows but
// tsstack does not implement become SpecWarnings naming key and line.
// Pure: paths were already made absolute by resolve-paths.ts.

import type {
  BuildSpec,
  DependsOn,
  DeploySpec,
  DevelopSpec,
  FileObjectRef,
  FileObjectSpec,
  HealthcheckSpec,
  LoggingSpec,
  NetworkAttachment,
  NetworkSpec,
  PortSpec,
  ResourceLimits,
  RestartPolicy,
  ServiceSpec,
  ServiceVolume,
  SpecWarning,
  VolumeSpec,
  WatchRule,
  UpdateConfig,
} from '../model/types.js';
import { TsstackError } from '../util/errors.js';
import { isObj } from './merge.js';
import { ISOLATION_KEYS, normalizeIsolation } from './isolation.js';
import { DEVICE_KEYS, normalizeDevices } from './devices.js';
import { HOOK_KEYS, normalizeHooks } from './hooks.js';
import { normalizeVolumesFrom } from './volumes-from.js';
import { checkServiceSysctls } from './sysctls.js';
import { parsePortShort, parsePublished } from './ports.js';
import { parseLink, parseNetworkMode, parseTmpfs } from './short-forms.js';
import { hasHealthKind, healthTest } from '../model/healthcheck.js';
import { splitShellWords } from './shellwords.js';
import { parseBytes, parseDuration } from '../model/units.js';
import { formatPath } from './yaml-read.js';
import { UTS_NAME_MAX } from '../model/uts.js';

type Obj = Record<string, unknown>;
type Path = (string | number)[];

/** Finds the file and line a path of the merged data came from. */
export type Locate = (path: readonly (string | number)[]) => { file: string; line?: number };

export class Ctx {
  readonly warnings: SpecWarning[] = [];
  /** Locations kept for checks made after loading (StackModel.lines). */
  readonly lines: Record<string, { file: string; line?: number }> = {};
  /** Skip cross-reference checks (for comparing with oracles that skip them). */
  skipConsistency = false;
  constructor(readonly where: Locate) {}

  error(path: Path, message: string, hint?: string): TsstackError {
    const { file, line } = this.where(path);
    const p = formatPath(path);
    return new TsstackError('SPEC', message, { location: { file, line, path: p }, hint });
  }

  /** Keeps where `path` came from in StackModel.lines. */
  remember(path: Path): void {
    const { file, line } = this.where(path);
    this.lines[formatPath(path)] = line === undefined ? { file } : { file, line };
  }

  warn(path: Path, message: string): void {
    const { file, line } = this.where(path);
    this.warnings.push({ file, line, path: formatPath(path), message });
  }
}

// ---------- scalars ----------

export function toBool(ctx: Ctx, path: Path, v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const s = v.toLowerCase();
    if (['true', 'yes', 'y', 'on', '1'].includes(s)) return true;
    if (['false', 'no', 'n', 'off', '0', ''].includes(s)) return false;
  }
  throw ctx.error(path, `must be a boolean, got ${JSON.stringify(v)}`);
}

export function toInt(ctx: Ctx, path: Path, v: unknown): number {
  const n = typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw ctx.error(path, `must be an integer, got ${JSON.stringify(v)}`);
  return n;
}

function toNum(ctx: Ctx, path: Path, v: unknown): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw ctx.error(path, `must be a number, got ${JSON.stringify(v)}`);
  return n;
}

function toStr(v: unknown): string {
  return typeof v === 'string' ? v : v === null || v === undefined ? '' : String(v);
}

function duration(ctx: Ctx, path: Path, v: unknown): number {
  try {
    return parseDuration(v as string | number);
  } catch (e) {
    throw ctx.error(path, (e as Error).message, 'write durations like 30s, 1m30s or 500ms');
  }
}

function bytes(ctx: Ctx, path: Path, v: unknown): number {
  try {
    return parseBytes(v as string | number);
  } catch (e) {
    throw ctx.error(path, (e as Error).message, 'write sizes like 512m, 1g or a number of bytes');
  }
}

function strList(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]).map(toStr);
}

/** `["K=V", "K"]` or `{K: V}` → map; a bare K gets `bare(K)`. */
export function keyValues(v: unknown, bare: (k: string) => string | null): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  if (Array.isArray(v)) {
    for (const item of v) {
      const s = toStr(item);
      const eq = s.indexOf('=');
      if (eq < 0) out[s] = bare(s);
      else out[s.slice(0, eq)] = s.slice(eq + 1);
    }
  } else if (isObj(v)) {
    for (const [k, x] of Object.entries(v)) out[k] = x === null || x === undefined ? bare(k) : toStr(x);
  }
  return out;
}

function labels(v: unknown): Record<string, string> {
  const kv = keyValues(v, () => '');
  return Object.fromEntries(Object.entries(kv).map(([k, x]) => [k, x ?? '']));
}

function command(ctx: Ctx, path: Path, v: unknown): string[] | null | undefined {
  if (v === undefined) return undefined;
  if (v === null) return null;
  if (Array.isArray(v)) return v.map(toStr);
  try {
    return splitShellWords(toStr(v));
  } catch (e) {
    throw ctx.error(path, (e as Error).message);
  }
}

function extensions(o: Obj): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (k.startsWith('x-')) out[k] = v;
  return out;
}

// ---------- service parts ----------

/** A warning for each key of `o` outside `known` (and not `x-*`): nothing is dropped silently. */
function warnUnknown(ctx: Ctx, path: Path, o: Obj, known: string[]): void {
  for (const k of Object.keys(o)) if (!known.includes(k) && !k.startsWith('x-')) ctx.warn([...path, k], `${k} is not supported by tsstack yet; ignored`);
}

function ports(ctx: Ctx, path: Path, v: unknown): PortSpec[] {
  const out: PortSpec[] = [];
  (Array.isArray(v) ? v : []).forEach((p, i) => {
    const ip = [...path, i];
    if (typeof p === 'number' || typeof p === 'string') {
      let parsed;
      try {
        parsed = parsePortShort(p);
      } catch (e) {
        throw ctx.error(ip, (e as Error).message, 'write ports as [[host_ip:]published:]target[/protocol], e.g. "127.0.0.1:8080:80/tcp"');
      }
      for (const r of parsed) {
        if (r.protocol !== 'tcp' && r.protocol !== 'udp') throw ctx.error(ip, `protocol ${r.protocol} is not supported (tcp or udp)`);
        out.push({ ...r, protocol: r.protocol });
      }
      return;
    }
    if (!isObj(p)) return;
    const proto = toStr(p.protocol ?? 'tcp').toLowerCase();
    if (proto !== 'tcp' && proto !== 'udp') throw ctx.error([...ip, 'protocol'], `protocol ${proto} is not supported (tcp or udp)`);
    const target = toInt(ctx, [...ip, 'target'], p.target);
    if (target < 1 || target > 65535) throw ctx.error([...ip, 'target'], `Invalid containerPort: ${target}`);
    const mode = toStr(p.mode ?? 'ingress');
    if (mode !== 'ingress' && mode !== 'host') throw ctx.error([...ip, 'mode'], `mode must be ingress or host, got ${JSON.stringify(mode)}`);
    const spec: PortSpec = { target, protocol: proto, mode };
    if (p.published !== undefined && p.published !== null && p.published !== '') {
      const pub = toStr(p.published);
      const range = parsePublished(pub);
      if (!range) throw ctx.error([...ip, 'published'], `Invalid hostPort: ${pub}`);
      spec.published = range;
    }
    if (p.host_ip !== undefined) spec.host_ip = toStr(p.host_ip);
    if (p.name !== undefined) spec.name = toStr(p.name);
    if (p.app_protocol !== undefined) spec.app_protocol = toStr(p.app_protocol);
    out.push(spec);
  });
  return out;
}

function volumes(ctx: Ctx, path: Path, v: unknown, declared: Set<string> | null): ServiceVolume[] {
  const out: ServiceVolume[] = [];
  (Array.isArray(v) ? v : []).forEach((raw, i) => {
    const ip = [...path, i];
    if (!isObj(raw)) throw ctx.error(ip, 'volume was not expanded (internal)');
    const type = toStr(raw.type);
    const target = toStr(raw.target);
    if (!target) throw ctx.error(ip, 'target must not be empty');
    warnUnknown(ctx, ip, raw, ['type', 'source', 'target', 'read_only', 'bind', 'volume', 'tmpfs']);
    if (isObj(raw.bind)) warnUnknown(ctx, [...ip, 'bind'], raw.bind, ['propagation', 'create_host_path', 'selinux']);
    if (isObj(raw.volume)) warnUnknown(ctx, [...ip, 'volume'], raw.volume, ['nocopy', 'subpath']);
    const ro = raw.read_only === undefined ? undefined : toBool(ctx, [...ip, 'read_only'], raw.read_only);
    if (type === 'bind') {
      const source = toStr(raw.source);
      if (!source) throw ctx.error(ip, 'invalid mount config for type "bind": field Source must not be empty');
      const vol: ServiceVolume = { type: 'bind', source, target };
      if (ro) vol.read_only = true;
      if (isObj(raw.bind)) {
        const b: { propagation?: string; create_host_path?: boolean; selinux?: string } = {};
        if (raw.bind.propagation !== undefined) b.propagation = toStr(raw.bind.propagation);
        if (raw.bind.create_host_path !== undefined) b.create_host_path = toBool(ctx, [...ip, 'bind', 'create_host_path'], raw.bind.create_host_path);
        if (raw.bind.selinux !== undefined) b.selinux = toStr(raw.bind.selinux);
        vol.bind = b;
      }
      out.push(vol);
    } else if (type === 'volume') {
      const vol: ServiceVolume = { type: 'volume', target };
      if (raw.source !== undefined && raw.source !== '') {
        vol.source = toStr(raw.source);
        if (declared && !declared.has(vol.source)) throw ctx.error([...ip, 'source'], `service refers to undefined volume ${vol.source}`, `declare it under the top-level volumes: key`);
      }
      if (ro) vol.read_only = true;
      if (isObj(raw.volume)) {
        const o: { nocopy?: boolean; subpath?: string } = {};
        if (raw.volume.nocopy !== undefined) o.nocopy = toBool(ctx, [...ip, 'volume', 'nocopy'], raw.volume.nocopy);
        if (raw.volume.subpath !== undefined) o.subpath = toStr(raw.volume.subpath);
        if (Object.keys(o).length) vol.volume = o;
      }
      out.push(vol);
    } else if (type === 'tmpfs') {
      const vol: ServiceVolume = { type: 'tmpfs', target };
      if (ro) vol.read_only = true;
      if (isObj(raw.tmpfs)) {
        const t: { size?: number; mode?: number } = {};
        if (raw.tmpfs.size !== undefined) t.size = bytes(ctx, [...ip, 'tmpfs', 'size'], raw.tmpfs.size);
        if (raw.tmpfs.mode !== undefined) t.mode = fileMode(ctx, [...ip, 'tmpfs', 'mode'], raw.tmpfs.mode);
        vol.tmpfs = t;
      }
      out.push(vol);
    } else {
      ctx.warn(ip, `volume type ${JSON.stringify(type)} is not supported by tsstack yet; ignored`);
    }
  });
  return out;
}

function fileMode(ctx: Ctx, path: Path, v: unknown): number {
  if (typeof v === 'number') return v;
  const s = toStr(v);
  if (/^0?[0-7]+$/.test(s)) return parseInt(s, 8);
  throw ctx.error(path, `invalid file mode ${JSON.stringify(v)}`);
}

function dependsOn(ctx: Ctx, path: Path, v: unknown): Record<string, DependsOn> {
  const out: Record<string, DependsOn> = {};
  if (Array.isArray(v)) for (const s of v) out[toStr(s)] = { condition: 'service_started', required: true };
  else if (isObj(v)) {
    for (const [k, d] of Object.entries(v)) {
      const o = isObj(d) ? d : {};
      const dep: DependsOn = { condition: (o.condition as DependsOn['condition']) ?? 'service_started', required: o.required === undefined ? true : toBool(ctx, [...path, k, 'required'], o.required) };
      if (o.restart !== undefined) dep.restart = toBool(ctx, [...path, k, 'restart'], o.restart);
      out[k] = dep;
    }
  }
  return out;
}

function serviceNetworks(ctx: Ctx, path: Path, v: unknown): Record<string, NetworkAttachment> {
  const out: Record<string, NetworkAttachment> = {};
  if (Array.isArray(v)) for (const n of v) out[toStr(n)] = {};
  else if (isObj(v)) {
    for (const [k, raw] of Object.entries(v)) {
      const a: NetworkAttachment = {};
      if (isObj(raw)) {
        if (raw.aliases !== undefined) a.aliases = strList(raw.aliases);
        if (raw.ipv4_address !== undefined) a.ipv4_address = toStr(raw.ipv4_address);
        if (raw.ipv6_address !== undefined) a.ipv6_address = toStr(raw.ipv6_address);
        if (raw.priority !== undefined) a.priority = toNum(ctx, [...path, k, 'priority'], raw.priority);
        for (const key of Object.keys(raw)) {
          if (!['aliases', 'ipv4_address', 'ipv6_address', 'priority'].includes(key) && !key.startsWith('x-')) ctx.warn([...path, k, key], `${key} is not supported by tsstack yet; ignored`);
        }
      }
      out[k] = a;
    }
  }
  return out;
}

function healthcheck(ctx: Ctx, path: Path, v: unknown): HealthcheckSpec | undefined {
  if (!isObj(v)) return undefined;
  const h: HealthcheckSpec = {};
  if (v.test !== undefined) {
    const list = typeof v.test === 'string' ? undefined : strList(v.test);
    if (list && !hasHealthKind(list)) {
      throw ctx.error([...path, 'test'], `healthcheck test must start with NONE, CMD or CMD-SHELL, got ${JSON.stringify(list[0])}`, 'write test: ["CMD", "curl", "-f", "http://localhost"] or a shell string');
    }
    h.test = healthTest(list ?? (v.test as string));
  }
  for (const k of ['interval', 'timeout', 'start_period', 'start_interval'] as const) if (v[k] !== undefined) h[k] = duration(ctx, [...path, k], v[k]);
  if (v.retries !== undefined) h.retries = toInt(ctx, [...path, 'retries'], v.retries);
  if (v.disable !== undefined) h.disable = toBool(ctx, [...path, 'disable'], v.disable);
  return h;
}

function resourceLimits(ctx: Ctx, path: Path, v: unknown): ResourceLimits | undefined {
  if (!isObj(v)) return undefined;
  const r: ResourceLimits = {};
  if (v.cpus !== undefined) r.cpus = toNum(ctx, [...path, 'cpus'], v.cpus);
  if (v.memory !== undefined) r.memory = bytes(ctx, [...path, 'memory'], v.memory);
  if (v.pids !== undefined) r.pids = toInt(ctx, [...path, 'pids'], v.pids);
  for (const k of Object.keys(v)) if (!['cpus', 'memory', 'pids'].includes(k) && !k.startsWith('x-')) ctx.warn([...path, k], `${k} is not supported by tsstack yet; ignored`);
  return r;
}

function deploy(ctx: Ctx, path: Path, v: unknown): DeploySpec | undefined {
  if (!isObj(v)) return undefined;
  const d: DeploySpec = {};
  if (v.mode !== undefined) {
    const m = toStr(v.mode);
    if (m !== 'replicated' && m !== 'global') throw ctx.error([...path, 'mode'], `mode must be replicated or global, got ${JSON.stringify(m)}`);
    d.mode = m;
  }
  if (v.replicas !== undefined) d.replicas = toInt(ctx, [...path, 'replicas'], v.replicas);
  if (isObj(v.resources)) {
    d.resources = {};
    const lim = resourceLimits(ctx, [...path, 'resources', 'limits'], v.resources.limits);
    const res = resourceLimits(ctx, [...path, 'resources', 'reservations'], v.resources.reservations);
    if (lim) d.resources.limits = lim;
    if (res) d.resources.reservations = res;
  }
  if (isObj(v.restart_policy)) {
    const rp = v.restart_policy;
    const p: NonNullable<DeploySpec['restart_policy']> = {};
    if (rp.condition !== undefined) {
      const c = toStr(rp.condition);
      if (c !== 'none' && c !== 'on-failure' && c !== 'any') throw ctx.error([...path, 'restart_policy', 'condition'], `condition must be none, on-failure or any`);
      p.condition = c;
    }
    if (rp.delay !== undefined) p.delay = duration(ctx, [...path, 'restart_policy', 'delay'], rp.delay);
    if (rp.max_attempts !== undefined) p.max_attempts = toInt(ctx, [...path, 'restart_policy', 'max_attempts'], rp.max_attempts);
    if (rp.window !== undefined) p.window = duration(ctx, [...path, 'restart_policy', 'window'], rp.window);
    d.restart_policy = p;
  }
  if (v.labels !== undefined) d.labels = labels(v.labels);
  if (isObj(v.update_config)) {
    const u = v.update_config;
    const at = [...path, 'update_config'];
    const p: NonNullable<DeploySpec['update_config']> = {};
    if (u.parallelism !== undefined) p.parallelism = toInt(ctx, [...at, 'parallelism'], u.parallelism);
    if (u.delay !== undefined) p.delay = duration(ctx, [...at, 'delay'], u.delay);
    if (u.monitor !== undefined) p.monitor = duration(ctx, [...at, 'monitor'], u.monitor);
    if (u.max_failure_ratio !== undefined) p.max_failure_ratio = toNum(ctx, [...at, 'max_failure_ratio'], u.max_failure_ratio);
    for (const [k, choices] of [['failure_action', ['continue', 'rollback', 'pause']], ['order', ['stop-first', 'start-first']]] as const) {
      if (u[k] === undefined) continue;
      const c = toStr(u[k]);
      if (!(choices as readonly string[]).includes(c)) throw ctx.error([...at, k], `${k} must be ${choices.join(' or ')}, got ${JSON.stringify(c)}`);
      (p as Record<string, string>)[k] = c;
    }
    d.update_config = p;
    // one host runs each replica once and replaces them all on up; only a cluster target uses it
    ctx.warn(at, 'deploy.update_config is used by render/deploy for a cluster only; up ignores it');
  }
  clusterDeploy(ctx, path, v, d);
  for (const k of Object.keys(v)) if (!['mode', 'replicas', 'resources', 'restart_policy', 'labels', 'update_config', ...CLUSTER_DEPLOY_KEYS].includes(k) && !k.startsWith('x-')) ctx.warn([...path, k], `deploy.${k} is not supported by tsstack yet; ignored`);
  return d;
}

/** deploy keys only a cluster target reads (deploy --to swarm); `up` ignores them, as Compose does. */
const CLUSTER_DEPLOY_KEYS = ['endpoint_mode', 'placement', 'rollback_config'];

function clusterDeploy(ctx: Ctx, path: Path, v: Record<string, unknown>, d: DeploySpec): void {
  const oneOf = <T extends string>(p: Path, x: unknown, allowed: readonly T[]): T => {
    const s = toStr(x);
    if (!(allowed as readonly string[]).includes(s)) throw ctx.error(p, `must be ${allowed.join(' or ')}, got ${JSON.stringify(s)}`);
    return s as T;
  };
  if (v.endpoint_mode !== undefined) d.endpoint_mode = oneOf([...path, 'endpoint_mode'], v.endpoint_mode, ['vip', 'dnsrr'] as const);
  if (isObj(v.placement)) {
    const p = v.placement, at = [...path, 'placement'];
    const out: NonNullable<DeploySpec['placement']> = {};
    if (p.constraints !== undefined) out.constraints = strList(p.constraints);
    if (p.preferences !== undefined) {
      out.preferences = (Array.isArray(p.preferences) ? p.preferences : [p.preferences]).map((x, i) => {
        if (!isObj(x) || typeof x.spread !== 'string') throw ctx.error([...at, 'preferences', i], 'a placement preference is {spread: node.labels.KEY}');
        return { spread: x.spread };
      });
    }
    if (p.max_replicas_per_node !== undefined) out.max_replicas_per_node = toInt(ctx, [...at, 'max_replicas_per_node'], p.max_replicas_per_node);
    d.placement = out;
  }
  // update_config is read above (render kubernetes uses it too)
  for (const key of ['rollback_config'] as const) {
    const u = v[key];
    if (!isObj(u)) continue;
    const at = [...path, key];
    const c: UpdateConfig = {};
    if (u.parallelism !== undefined) c.parallelism = toInt(ctx, [...at, 'parallelism'], u.parallelism);
    if (u.delay !== undefined) c.delay = duration(ctx, [...at, 'delay'], u.delay);
    if (u.failure_action !== undefined) c.failure_action = oneOf([...at, 'failure_action'], u.failure_action, ['continue', 'rollback', 'pause'] as const);
    if (u.monitor !== undefined) c.monitor = duration(ctx, [...at, 'monitor'], u.monitor);
    if (u.max_failure_ratio !== undefined) c.max_failure_ratio = toNum(ctx, [...at, 'max_failure_ratio'], u.max_failure_ratio);
    if (u.order !== undefined) c.order = oneOf([...at, 'order'], u.order, ['stop-first', 'start-first'] as const);
    d[key] = c;
  }
}

function build(ctx: Ctx, path: Path, v: unknown, lookup: (k: string) => string | undefined, projectDir: string): BuildSpec | undefined {
  if (v === undefined) return undefined;
  const o: Obj = typeof v === 'string' ? { context: v } : isObj(v) ? v : {};
  const b: BuildSpec = { context: o.context === undefined ? projectDir : toStr(o.context), args: {}, labels: {}, tags: [] };
  if (o.dockerfile_inline !== undefined) b.dockerfile_inline = toStr(o.dockerfile_inline);
  else b.dockerfile = toStr(o.dockerfile ?? 'Dockerfile');
  if (o.args !== undefined) b.args = keyValues(o.args, (k) => lookup(k) ?? null);
  if (o.target !== undefined) b.target = toStr(o.target);
  if (o.labels !== undefined) b.labels = labels(o.labels);
  if (o.tags !== undefined) b.tags = strList(o.tags);
  if (o.no_cache !== undefined) b.no_cache = toBool(ctx, [...path, 'no_cache'], o.no_cache);
  if (o.network !== undefined) b.network = toStr(o.network);
  const known = ['context', 'dockerfile', 'dockerfile_inline', 'args', 'target', 'labels', 'tags', 'no_cache', 'network'];
  for (const k of Object.keys(o)) if (!known.includes(k) && !k.startsWith('x-')) ctx.warn([...path, k], `build.${k} is not supported by tsstack yet; ignored`);
  return b;
}

function fileRefs(ctx: Ctx, path: Path, v: unknown, declared: Set<string> | null, kind: 'secret' | 'config'): FileObjectRef[] {
  return (Array.isArray(v) ? v : []).map((r, i) => {
    const ref: FileObjectRef = typeof r === 'string' ? { source: r } : { source: toStr((r as Obj).source) };
    if (isObj(r)) {
      if (r.target !== undefined) ref.target = toStr(r.target);
      if (r.uid !== undefined) ref.uid = toStr(r.uid);
      if (r.gid !== undefined) ref.gid = toStr(r.gid);
      if (r.mode !== undefined) ref.mode = fileMode(ctx, [...path, i, 'mode'], r.mode);
    }
    if (declared && !declared.has(ref.source)) throw ctx.error([...path, i], `service refers to undefined ${kind} ${ref.source}`, `declare it under the top-level ${kind}s: key`);
    return ref;
  });
}

function develop(ctx: Ctx, path: Path, v: unknown): DevelopSpec | undefined {
  if (!isObj(v)) return undefined;
  const watch: WatchRule[] = (Array.isArray(v.watch) ? v.watch : []).map((w: unknown, i: number) => {
    const o = w as Obj;
    const rule: WatchRule = { path: toStr(o.path), action: o.action as WatchRule['action'] };
    if (o.target !== undefined) rule.target = toStr(o.target);
    if (o.ignore !== undefined) rule.ignore = strList(o.ignore);
    if (o.include !== undefined) rule.include = strList(o.include);
    if (o.initial_sync !== undefined) rule.initial_sync = toBool(ctx, [...path, 'watch', i, 'initial_sync'], o.initial_sync);
    if (isObj(o.exec)) {
      const e = o.exec;
      rule.exec = { command: command(ctx, [...path, 'watch', i, 'exec', 'command'], e.command) ?? [] };
      if (e.user !== undefined) rule.exec.user = toStr(e.user);
      if (e.privileged !== undefined) rule.exec.privileged = toBool(ctx, [...path, 'watch', i, 'exec', 'privileged'], e.privileged);
      if (e.working_dir !== undefined) rule.exec.working_dir = toStr(e.working_dir);
      if (e.environment !== undefined) rule.exec.environment = labels(e.environment);
    }
    return rule;
  });
  return { watch };
}

const RESTART = /^(no|always|unless-stopped|on-failure(:\d+)?)$/;
const PULL = ['always', 'never', 'missing', 'build', 'if_not_present'];

/** Keys of a service this module turns into the model. */
const SUPPORTED = new Set([
  'image', 'build', 'command', 'entrypoint', 'environment', 'env_file', 'working_dir', 'user', 'hostname', 'domainname', 'container_name',
  'labels', 'ports', 'expose', 'volumes', 'tmpfs', 'depends_on', 'networks', 'network_mode', 'healthcheck', 'deploy', 'restart',
  'stop_signal', 'stop_grace_period', 'tty', 'stdin_open', 'init', 'read_only', 'privileged', 'cap_add', 'cap_drop', 'ulimits', 'sysctls',
  'extra_hosts', 'dns', 'dns_search', 'mem_limit', 'memswap_limit', 'cpus', 'cpu_shares', 'cpuset', 'pids_limit', 'shm_size', 'oom_score_adj',
  'group_add', 'profiles', 'scale', 'pull_policy', 'secrets', 'configs', 'develop', 'extends', 'label_file', 'links',
  ...ISOLATION_KEYS,
  ...DEVICE_KEYS,
  ...HOOK_KEYS,
  'volumes_from',
  'logging', 'cpu_quota', 'cpu_period', 'mem_reservation', 'dns_opt',
]);

export interface ServiceContext {
  lookup: (k: string) => string | undefined;
  /** Absolute project directory: the build context when none is given. */
  projectDir: string;
  /** Variables read from the service's env_file(s), in order. */
  envFileVars: Record<string, string>;
  /** Labels read from the service's label_file(s), in order; `labels:` wins over them. */
  labelFileVars: Record<string, string>;
  /** Declared top-level names; null skips the reference check. */
  volumes: Set<string> | null;
  secrets: Set<string> | null;
  configs: Set<string> | null;
}

export function normalizeService(ctx: Ctx, name: string, raw: Obj, sc: ServiceContext): ServiceSpec {
  const p: Path = ['services', name];
  const at = (k: string): Path => [...p, k];
  const env: Record<string, string | null> = { ...sc.envFileVars };
  Object.assign(env, keyValues(raw.environment, (k) => sc.lookup(k) ?? null));
  for (const k of Object.keys(env)) {
    if (k !== k.trim() || k === '') throw ctx.error(at('environment'), `environment variable ${k} is declared with a trailing space`, 'remove the spaces around the name');
  }
  const s: ServiceSpec = {
    environment: env,
    labels: { ...sc.labelFileVars, ...labels(raw.labels) },
    ports: ports(ctx, at('ports'), raw.ports),
    expose: strList(raw.expose),
    volumes: volumes(ctx, at('volumes'), raw.volumes, sc.volumes),
    tmpfs: strList(raw.tmpfs).map((v, i) => {
      try {
        return parseTmpfs(v);
      } catch (e) {
        throw ctx.error([...at('tmpfs'), i], (e as Error).message, 'write TARGET or TARGET:size=64m,mode=1777 (options as for docker run --tmpfs)');
      }
    }),
    depends_on: dependsOn(ctx, at('depends_on'), raw.depends_on),
    networks: {},
    cap_add: strList(raw.cap_add),
    cap_drop: strList(raw.cap_drop),
    ulimits: {},
    sysctls: Object.fromEntries(Object.entries(keyValues(raw.sysctls, () => '')).map(([k, v]) => [k, v ?? ''])),
    extra_hosts: extraHosts(raw.extra_hosts),
    dns: strList(raw.dns),
    dns_search: strList(raw.dns_search),
    group_add: strList(raw.group_add),
    profiles: strList(raw.profiles),
    secrets: fileRefs(ctx, at('secrets'), raw.secrets, sc.secrets, 'secret'),
    configs: fileRefs(ctx, at('configs'), raw.configs, sc.configs, 'config'),
    extensions: extensions(raw),
  };
  const links = strList(raw.links).map(parseLink);
  if (links.length) {
    s.links = links;
    // As Compose: a link is an implicit dependency (started first, restarted with it); an explicit depends_on wins.
    for (const l of links) s.depends_on[l.service] ??= { condition: 'service_started', required: true, restart: true };
  }
  if (raw.network_mode !== undefined) {
    s.network_mode = parseNetworkMode(toStr(raw.network_mode));
    if (typeof s.network_mode === 'object' && !s.network_mode.name) throw ctx.error(at('network_mode'), `network_mode ${JSON.stringify(raw.network_mode)} names no ${s.network_mode.kind}`, `write ${s.network_mode.kind}:NAME`);
    if (raw.networks !== undefined && sc.volumes === null) s.networks = serviceNetworks(ctx, at('networks'), raw.networks);
    else if (raw.networks !== undefined) throw ctx.error(at('networks'), `service ${name} declares mutually exclusive \`network_mode\` and \`networks\``, 'keep one of the two keys');
  } else {
    s.networks = raw.networks === undefined ? { default: {} } : serviceNetworks(ctx, at('networks'), raw.networks);
  }
  for (const k of ['image', 'working_dir', 'user', 'hostname', 'domainname', 'container_name', 'stop_signal', 'cpuset'] as const) {
    if (raw[k] !== undefined) s[k] = toStr(raw[k]);
  }
  // said here, with its line, rather than by every start's EINVAL (unused with the host's UTS namespace)
  if (s.network_mode !== 'host' && raw.uts !== 'host') {
    for (const k of ['hostname', 'domainname'] as const) {
      const v = s[k], len = v === undefined ? 0 : Buffer.byteLength(v);
      if (len > UTS_NAME_MAX) throw ctx.error(at(k), `${k} ${JSON.stringify(v)} is ${len} bytes long: the kernel takes at most ${UTS_NAME_MAX}`, `use a shorter ${k}`);
    }
  }
  if (raw.build !== undefined) s.build = build(ctx, at('build'), raw.build, sc.lookup, sc.projectDir);
  if (raw.image === undefined && raw.build === undefined && !ctx.skipConsistency) throw ctx.error(p, `service ${name} has neither an image nor a build context specified`, 'add image: or build:');
  const cmd = command(ctx, at('command'), raw.command);
  if (cmd !== undefined) s.command = cmd;
  const ep = command(ctx, at('entrypoint'), raw.entrypoint);
  if (ep !== undefined) s.entrypoint = ep;
  const hc = healthcheck(ctx, at('healthcheck'), raw.healthcheck);
  if (hc) s.healthcheck = hc;
  const d = deploy(ctx, at('deploy'), raw.deploy);
  if (d) s.deploy = d;
  if (raw.restart !== undefined) {
    const r = toStr(raw.restart === false ? 'no' : raw.restart);
    if (!RESTART.test(r)) throw ctx.error(at('restart'), `invalid restart policy ${JSON.stringify(r)}`, 'use no, always, on-failure[:N] or unless-stopped');
    s.restart = r as RestartPolicy;
  }
  if (raw.stop_grace_period !== undefined) s.stop_grace_period = duration(ctx, at('stop_grace_period'), raw.stop_grace_period);
  for (const k of ['tty', 'stdin_open', 'init', 'read_only', 'privileged'] as const) if (raw[k] !== undefined) s[k] = toBool(ctx, at(k), raw[k]);
  if (isObj(raw.ulimits)) {
    for (const [k, u] of Object.entries(raw.ulimits)) {
      if (isObj(u)) s.ulimits[k] = { soft: toInt(ctx, [...at('ulimits'), k, 'soft'], u.soft), hard: toInt(ctx, [...at('ulimits'), k, 'hard'], u.hard) };
      else {
        const n = toInt(ctx, [...at('ulimits'), k], u);
        s.ulimits[k] = { soft: n, hard: n };
      }
    }
  }
  for (const k of ['mem_limit', 'memswap_limit', 'shm_size'] as const) if (raw[k] !== undefined) s[k] = bytes(ctx, at(k), raw[k]);
  if (raw.cpus !== undefined) s.cpus = toNum(ctx, at('cpus'), raw.cpus);
  if (raw.cpu_shares !== undefined) s.cpu_shares = toInt(ctx, at('cpu_shares'), raw.cpu_shares);
  if (raw.pids_limit !== undefined) s.pids_limit = toInt(ctx, at('pids_limit'), raw.pids_limit);
  if (raw.oom_score_adj !== undefined) s.oom_score_adj = toInt(ctx, at('oom_score_adj'), raw.oom_score_adj);
  if (raw.scale !== undefined) s.scale = toInt(ctx, at('scale'), raw.scale);
  if (raw.pull_policy !== undefined) {
    const pp = toStr(raw.pull_policy);
    if (!PULL.includes(pp)) ctx.warn(at('pull_policy'), `pull_policy ${pp} is not supported by tsstack yet; treated as missing`);
    s.pull_policy = (PULL.includes(pp) ? pp : 'missing') as ServiceSpec['pull_policy'];
  }
  const dev = develop(ctx, at('develop'), raw.develop);
  if (dev) s.develop = dev;
  const log = logging(ctx, at('logging'), raw.logging);
  if (log) s.logging = log;
  cpuMemoryExtras(ctx, p, raw, s);
  normalizeIsolation(ctx, name, raw, s, sc.projectDir);
  checkServiceSysctls(ctx, name, raw, s);
  normalizeDevices(ctx, name, raw, s);
  normalizeVolumesFrom(ctx, name, raw, s);
  normalizeHooks(ctx, name, raw, s, { command: (path, v) => command(ctx, path, v), bool: (path, v) => toBool(ctx, path, v), env: (v) => keyValues(v, (k) => sc.lookup(k) ?? null) });
  for (const k of Object.keys(raw)) {
    if (!SUPPORTED.has(k) && !k.startsWith('x-')) ctx.warn(at(k), `${k} is not supported by tsstack yet; ignored`);
  }
  return s;
}

/** Drivers tsstack has: json-file and local both write its JSON-lines log; `none` keeps nothing. */
const LOG_DRIVERS = ['json-file', 'local', 'none'];
const LOG_OPTIONS = ['max-size', 'max-file'];

/**
 * `logging:` as written (Compose prints driver options as strings). `max-size`/`max-file` are checked here
 * so a bad value fails at load with its line; another driver is warned about (json-file is used), and so is
 * an option tsstack does not apply.
 */
function logging(ctx: Ctx, path: Path, v: unknown): LoggingSpec | undefined {
  if (!isObj(v)) return undefined;
  const l: LoggingSpec = {};
  if (v.driver !== undefined && v.driver !== null) l.driver = toStr(v.driver);
  if (isObj(v.options)) l.options = Object.fromEntries(Object.entries(v.options).map(([k, x]) => [k, toStr(x)]));
  const driver = l.driver ?? 'json-file';
  if (!LOG_DRIVERS.includes(driver)) {
    ctx.warn([...path, 'driver'], `logging driver ${driver} is not supported by tsstack; json-file is used`);
    return l;
  }
  if (driver === 'none') return l;
  const o = l.options ?? {};
  if (o['max-size'] !== undefined && o['max-size'] !== '-1') {
    const n = bytes(ctx, [...path, 'options', 'max-size'], o['max-size']);
    if (n < 0) throw ctx.error([...path, 'options', 'max-size'], `max-size must not be negative, got ${JSON.stringify(o['max-size'])}`, 'write a size like 10m, or -1 for no limit');
  }
  if (o['max-file'] !== undefined && !(/^\s*\d+\s*$/.test(o['max-file']) && Number(o['max-file']) >= 1)) {
    throw ctx.error([...path, 'options', 'max-file'], `max-file must be an integer of at least 1, got ${JSON.stringify(o['max-file'])}`, 'write how many log files to keep, e.g. 3');
  }
  for (const k of Object.keys(o)) if (!LOG_OPTIONS.includes(k)) ctx.warn([...path, 'options', k], `logging option ${k} is not supported by tsstack yet; ignored`);
  return l;
}

/** `cpu_quota`/`cpu_period` (µs), `mem_reservation`, `dns_opt`. */
function cpuMemoryExtras(ctx: Ctx, p: Path, raw: Obj, s: ServiceSpec): void {
  for (const k of ['cpu_quota', 'cpu_period'] as const) {
    if (raw[k] === undefined) continue;
    const n = toInt(ctx, [...p, k], raw[k]);
    // the kernel's CFS bounds: period 1 ms – 1 s, quota at least 1 ms; 0 = not set (and quota -1 = no limit), as Docker
    if (k === 'cpu_period' && n !== 0 && (n < 1000 || n > 1_000_000)) throw ctx.error([...p, k], `cpu_period must be between 1000 and 1000000 microseconds, got ${n}`, 'the default period is 100000 (100 ms)');
    if (k === 'cpu_quota' && n !== -1 && n !== 0 && n < 1000) throw ctx.error([...p, k], `cpu_quota must be at least 1000 microseconds (or -1 for no limit), got ${n}`, 'e.g. cpu_quota: 50000 with cpu_period: 100000 is half a CPU');
    s[k] = n;
  }
  if (s.cpu_quota !== undefined && s.cpu_quota > 0 && (raw.cpus !== undefined || (isObj(raw.deploy) && isObj(raw.deploy.resources) && isObj(raw.deploy.resources.limits) && raw.deploy.resources.limits.cpus !== undefined))) {
    ctx.warn([...p, 'cpu_quota'], 'cpu_quota and cpus are both set: cpu_quota/cpu_period are used');
  }
  if (raw.mem_reservation !== undefined) s.mem_reservation = bytes(ctx, [...p, 'mem_reservation'], raw.mem_reservation);
  const opts = strList(raw.dns_opt);
  if (opts.length) {
    opts.forEach((o, i) => {
      if (!o || /\s/.test(o)) throw ctx.error([...p, 'dns_opt', i], `invalid resolver option ${JSON.stringify(o)}`, 'write one option per entry, e.g. ndots:2 or use-vc');
    });
    s.dns_opt = opts;
  }
}

function extraHosts(v: unknown): string[] {
  if (isObj(v)) {
    const out: string[] = [];
    for (const [h, ip] of Object.entries(v)) for (const a of Array.isArray(ip) ? ip : [ip]) out.push(`${h}=${toStr(a)}`);
    return out;
  }
  // `host:ip` and `host=ip` are both accepted; `host=ip` is the canonical form (IPv6 has colons).
  return strList(v).map((e) => (e.includes('=') ? e : e.replace(/^([^:]+):/, '$1=')));
}

// ---------- top-level objects ----------

function externalOf(ctx: Ctx, path: Path, raw: Obj): { external: boolean; name?: string } {
  const e = raw.external;
  if (e === undefined) return { external: false };
  if (isObj(e)) {
    if (e.name !== undefined && raw.name !== undefined) throw ctx.error(path, `${formatPath(path)}: name and external.name conflict; only use name`);
    if (e.name !== undefined) ctx.warn([...path, 'external', 'name'], 'external.name is deprecated; use name');
    return { external: true, name: e.name === undefined ? undefined : toStr(e.name) };
  }
  return { external: toBool(ctx, [...path, 'external'], e) };
}

function stringMap(v: unknown): Record<string, string> {
  return isObj(v) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toStr(x)])) : {};
}

export function normalizeNetwork(ctx: Ctx, project: string, key: string, raw: unknown): NetworkSpec {
  const path: Path = ['networks', key];
  const o = isObj(raw) ? raw : {};
  const ext = externalOf(ctx, path, o);
  const n: NetworkSpec = { name: toStr(o.name ?? ext.name ?? (ext.external ? key : `${project}_${key}`)), driver_opts: stringMap(o.driver_opts), labels: labels(o.labels) };
  if (o.driver !== undefined) n.driver = toStr(o.driver);
  if (ext.external) {
    n.external = true;
    for (const k of ['driver', 'driver_opts', 'labels', 'ipam']) if (o[k] !== undefined) throw ctx.error(path, `${formatPath(path)}: conflicting parameters "external" and "${k}" specified`);
  }
  for (const k of ['internal', 'attachable', 'enable_ipv6'] as const) if (o[k] !== undefined) n[k] = toBool(ctx, [...path, k], o[k]);
  if (isObj(o.ipam)) {
    n.ipam = { config: [] };
    if (o.ipam.driver !== undefined) n.ipam.driver = toStr(o.ipam.driver);
    warnUnknown(ctx, [...path, 'ipam'], o.ipam, ['driver', 'config']);
    (Array.isArray(o.ipam.config) ? o.ipam.config : []).forEach((c: unknown, i: number) => {
      const cfg: { subnet?: string; gateway?: string; ip_range?: string } = {};
      if (isObj(c)) {
        for (const k of ['subnet', 'gateway', 'ip_range'] as const) if (c[k] !== undefined) cfg[k] = toStr(c[k]);
        warnUnknown(ctx, [...path, 'ipam', 'config', i], c, ['subnet', 'gateway', 'ip_range']);
      }
      n.ipam!.config.push(cfg);
    });
  }
  warnUnknown(ctx, path, o, ['name', 'driver', 'driver_opts', 'ipam', 'external', 'internal', 'attachable', 'enable_ipv6', 'labels']);
  if (n.driver !== undefined && n.driver !== 'bridge' && !ext.external) ctx.warn([...path, 'driver'], `network driver ${n.driver} is not supported by tsstack; a bridge is used`);
  return n;
}

export function normalizeVolume(ctx: Ctx, project: string, key: string, raw: unknown): VolumeSpec {
  const path: Path = ['volumes', key];
  const o = isObj(raw) ? raw : {};
  const ext = externalOf(ctx, path, o);
  const v: VolumeSpec = { name: toStr(o.name ?? ext.name ?? (ext.external ? key : `${project}_${key}`)), driver_opts: stringMap(o.driver_opts), labels: labels(o.labels) };
  if (o.driver !== undefined) v.driver = toStr(o.driver);
  if (ext.external) {
    v.external = true;
    for (const k of ['driver', 'driver_opts', 'labels']) if (o[k] !== undefined) throw ctx.error(path, `${formatPath(path)}: conflicting parameters "external" and "${k}" specified`);
  }
  return v;
}

export function normalizeFileObject(ctx: Ctx, project: string, kind: 'secrets' | 'configs', key: string, raw: unknown): FileObjectSpec {
  const path: Path = [kind, key];
  const o = isObj(raw) ? raw : {};
  const ext = externalOf(ctx, path, o);
  const f: FileObjectSpec = { name: toStr(o.name ?? ext.name ?? (ext.external ? key : `${project}_${key}`)) };
  if (o.file !== undefined) f.file = toStr(o.file);
  if (o.environment !== undefined) f.environment = toStr(o.environment);
  if (o.content !== undefined) f.content = toStr(o.content);
  if (ext.external) f.external = true;
  const sources = ['file', 'environment', 'content'].filter((k) => o[k] !== undefined).length;
  if (!ext.external && sources === 0 && o.driver === undefined && !ctx.skipConsistency) throw ctx.error(path, `${kind.slice(0, -1)} ${key} has no file, environment or content`, 'set one of file:, environment: or content:');
  for (const k of ['driver', 'driver_opts', 'template_driver', 'labels']) if (o[k] !== undefined) ctx.warn([...path, k], `${k} is not supported by tsstack yet; ignored`);
  return f;
}
