// A service → its workload (Deployment, StatefulSet or Job) with one
// container: image, command, environment, resources, security context,
// probes, mounts, and the init containers that wait on depends_on. Keys with
// no faithful form are warned about here, each at its own line.

import type { ServiceSpec } from '../../model/types.js';
import { formatMode } from '../../model/format.js';
import type { ServiceExtension, StackExtension } from './extension.js';
import { initWaits, tokenVolume, waitAccountName, type WorkloadKind } from './init-wait.js';
import { isLabelKey, isLabelValue, k8sName, ownNetworkMode, projectLabels, selectorOf, serviceLabel, LABEL_SERVICE } from './names.js';
import { networkLabels } from './network-policies.js';
import { probesFor } from './probes.js';
import { ownsVolume, podStorage } from './volumes.js';
import type { K8sObject, RenderCtx } from './types.js';

/** sysctls Kubernetes allows without a kubelet allow-list (its "safe" set). */
const SAFE_SYSCTLS = new Set([
  'kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.ip_unprivileged_port_start', 'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range', 'net.ipv4.ip_local_reserved_ports', 'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes',
]);

/** Values that look like credentials go to a Secret, never inline or into a ConfigMap. */
const SECRET_NAME = /(pass(word|wd)?|secret|token|credential|api_?key|private_?key|_key$|^key$|pwd)/i;
/** …but `*_FILE` names hold a path to the secret (the postgres/mysql images' convention), not the secret. */
const PATH_NAME = /_FILE$/i;
/** A value carrying a password itself, whatever its name: `postgres://app:s3cret@db/app` (DATABASE_URL, BROKER_URL…). */
const URL_WITH_PASSWORD = /^[a-z][a-z0-9+.-]*:\/\/[^/@\s:]*:[^/@\s]+@/i;

/** Keys with no Kubernetes form at all: one warning each when set. */
const UNMAPPED: [keyof ServiceSpec, string][] = [
  ['container_name', 'pods are named by their workload'],
  ['domainname', 'the cluster names pods'],
  ['cgroup_parent', 'the kubelet places cgroups'],
  ['devices', 'devices need a device plugin'],
  ['device_cgroup_rules', 'devices need a device plugin'],
  ['ulimits', 'Kubernetes has no per-container ulimits'],
  ['pid', 'namespace sharing is per pod (shareProcessNamespace), not between services'],
  ['ipc', 'namespace sharing is per pod, not between services'],
  ['uts', 'namespace sharing is per pod, not between services'],
  ['links', 'services reach each other by name; link aliases are not rendered'],
  ['logging', 'logs are the cluster\'s to keep'],
  ['oom_score_adj', 'the kubelet sets it from the QoS class'],
  ['pids_limit', 'pid limits are the kubelet\'s'],
  ['cpu_shares', 'CPU weight follows from the requests'],
  ['cpuset', 'CPU pinning is the kubelet\'s CPU manager\'s'],
  ['cpu_quota', 'write the limit as cpus'],
  ['cpu_period', 'write the limit as cpus'],
  ['memswap_limit', 'swap is the kubelet\'s'],
  ['init', 'no init process is injected; use an image with one'],
  ['stop_signal', 'pods are stopped with SIGTERM'],
  ['platform', 'the node is chosen by the scheduler (use a nodeSelector on kubernetes.io/arch)'],
  ['volumes_from', 'mount the same claim instead'],
  ['develop', 'watch rules are for a local stack'],
];

export function workloadKind(ctx: RenderCtx, svc: string, ext: ServiceExtension): WorkloadKind {
  if (ext.workload) return ext.workload;
  const s = ctx.model.services[svc]!;
  const waitedOn = Object.values(ctx.model.services).some((o) => o.depends_on[svc]?.condition === 'service_completed_successfully');
  // Compose's default restart policy is "no"
  if ((s.restart ?? 'no') === 'no' && waitedOn) return 'Job';
  const claims = s.volumes.filter((v) => v.type === 'volume' && v.source && !ctx.model.volumes[v.source]?.external).map((v) => (v as { source: string }).source);
  if (replicasOf(s) === 1 && claims.length && claims.every((c) => ownsVolume(ctx, svc, c))) return 'StatefulSet';
  return 'Deployment';
}

/**
 * deploy.update_config → a Deployment's strategy. Swarm replaces `parallelism` tasks at a time (0: all),
 * stopping the old ones first unless `order: start-first`: that is a rolling update with
 * maxUnavailable = parallelism and no surge, or with maxSurge = parallelism and none unavailable.
 * A ReadWriteOnce claim forces Recreate (the new pod could not mount it while the old one holds it).
 */
function deploymentStrategy(ctx: RenderCtx, svc: string, s: ServiceSpec, rwo: boolean): Record<string, unknown> | undefined {
  const u = s.deploy?.update_config;
  const at = ['services', svc, 'deploy', 'update_config'];
  if (rwo) {
    if (u?.order === 'start-first') ctx.warn([...at, 'order'], 'start-first cannot be kept: the service mounts a ReadWriteOnce claim, so the old pod is stopped first (Recreate)');
    return { type: 'Recreate' };
  }
  if (!u) return undefined;
  if (u.delay) ctx.warn([...at, 'delay'], 'a Deployment has no pause between batches; delay is not rendered');
  if (u.monitor) ctx.warn([...at, 'monitor'], 'a Deployment has no per-batch monitor period; monitor is not rendered');
  if (u.max_failure_ratio) ctx.warn([...at, 'max_failure_ratio'], 'a Deployment stops at the first pod that does not become ready; max_failure_ratio is not rendered');
  if (u.failure_action && u.failure_action !== 'pause') ctx.warn([...at, 'failure_action'], `failure_action ${u.failure_action}: a Deployment that fails stops where it is (as pause); roll back with kubectl rollout undo`);
  const n = u.parallelism ?? 1;
  const step: string | number = n === 0 ? '100%' : n;
  return { type: 'RollingUpdate', rollingUpdate: u.order === 'start-first' ? { maxSurge: step, maxUnavailable: 0 } : { maxSurge: 0, maxUnavailable: step } };
}

function replicasOf(s: ServiceSpec): number {
  return s.deploy?.replicas ?? s.scale ?? 1;
}

function quantityCpu(c: number): string {
  return `${Math.round(c * 1000)}m`;
}

function resources(ctx: RenderCtx, svc: string, s: ServiceSpec): Record<string, unknown> | undefined {
  const at = ['services', svc];
  const limits: Record<string, string> = {};
  const requests: Record<string, string> = {};
  const lim = s.deploy?.resources?.limits;
  const res = s.deploy?.resources?.reservations;
  const cpu = lim?.cpus ?? s.cpus;
  const mem = lim?.memory ?? s.mem_limit;
  if (cpu !== undefined && cpu > 0) limits.cpu = quantityCpu(cpu);
  if (mem !== undefined) limits.memory = String(mem);
  if (res?.cpus !== undefined && res.cpus > 0) requests.cpu = quantityCpu(res.cpus);
  const rmem = res?.memory ?? s.mem_reservation;
  if (rmem !== undefined) requests.memory = String(rmem);
  if (lim?.pids !== undefined) ctx.warn([...at, 'deploy', 'resources', 'limits', 'pids'], 'pid limits are the kubelet\'s; not rendered');
  if (res?.pids !== undefined) ctx.warn([...at, 'deploy', 'resources', 'reservations', 'pids'], 'pid reservations have no Kubernetes form; not rendered');
  if (!Object.keys(limits).length && !Object.keys(requests).length) return undefined;
  return { ...(Object.keys(limits).length ? { limits } : {}), ...(Object.keys(requests).length ? { requests } : {}) };
}

function securityContext(ctx: RenderCtx, svc: string, s: ServiceSpec): { container?: Record<string, unknown>; pod?: Record<string, unknown> } {
  const at = ['services', svc];
  const c: Record<string, unknown> = {};
  const pod: Record<string, unknown> = {};
  if (s.user !== undefined) {
    const m = /^(\d+)(?::(\d+))?$/.exec(s.user);
    if (m) {
      c.runAsUser = Number(m[1]);
      if (m[2] !== undefined) c.runAsGroup = Number(m[2]);
    } else ctx.warn([...at, 'user'], `user ${JSON.stringify(s.user)} is a name: Kubernetes takes numeric ids only (write uid[:gid]); not rendered`);
  }
  if (s.read_only) c.readOnlyRootFilesystem = true;
  if (s.privileged) c.privileged = true;
  const cap = (x: string) => x.toUpperCase().replace(/^CAP_/, '');
  if (s.cap_add.length || s.cap_drop.length) {
    c.capabilities = { ...(s.cap_add.length ? { add: [...s.cap_add].map(cap).sort() } : {}), ...(s.cap_drop.length ? { drop: [...s.cap_drop].map(cap).sort() } : {}) };
  }
  (s.security_opt ?? []).forEach((o, i) => {
    if (o.key === 'no-new-privileges' && o.value) c.allowPrivilegeEscalation = false;
    else if (o.key === 'no-new-privileges') return;
    else ctx.warn([...at, 'security_opt', i], `security_opt ${JSON.stringify(o.written)} has no faithful Kubernetes form; not rendered`);
  });
  const sysctls = Object.keys(s.sysctls).sort();
  const safe = sysctls.filter((k) => SAFE_SYSCTLS.has(k));
  if (safe.length) pod.sysctls = safe.map((name) => ({ name, value: String(s.sysctls[name]) }));
  for (const k of sysctls) if (!SAFE_SYSCTLS.has(k)) ctx.warn([...at, 'sysctls', k], `sysctl ${k} is not in Kubernetes' safe set (it needs the kubelet's --allowed-unsafe-sysctls); not rendered`);
  const groups = s.group_add.filter((g) => /^\d+$/.test(g)).map(Number);
  if (groups.length) pod.supplementalGroups = groups;
  if (groups.length < s.group_add.length) ctx.warn([...at, 'group_add'], 'group names need numeric ids in Kubernetes; only numeric ones are rendered');
  return { container: Object.keys(c).length ? c : undefined, pod: Object.keys(pod).length ? pod : undefined };
}

interface EnvResult {
  env: Record<string, unknown>[];
  secret?: K8sObject;
}

/** environment (env_file values are in it already) → env; credential-looking values → a Secret `<svc>-env`. */
function environment(ctx: RenderCtx, svc: string, s: ServiceSpec): EnvResult {
  const env: Record<string, unknown>[] = [];
  const secretData: Record<string, string> = {};
  const secretName = k8sName(ctx, ['services', svc], `${svc}-env`, 253);
  for (const k of Object.keys(s.environment).sort()) {
    const v = s.environment[k];
    if (v === null || v === undefined) {
      ctx.warn(['services', svc, 'environment', k], `${k} has no value (unset when loading); not rendered`);
      continue;
    }
    if ((SECRET_NAME.test(k) && !PATH_NAME.test(k)) || URL_WITH_PASSWORD.test(v)) {
      secretData[k] = Buffer.from(v, 'utf8').toString('base64');
      env.push({ name: k, valueFrom: { secretKeyRef: { name: secretName, key: k } } });
    } else env.push({ name: k, value: v });
  }
  const secret: K8sObject | undefined = Object.keys(secretData).length
    ? { apiVersion: 'v1', kind: 'Secret', metadata: { name: secretName, labels: { ...projectLabels(ctx), [LABEL_SERVICE]: serviceLabel(ctx, svc) } }, type: 'Opaque', data: secretData }
    : undefined;
  return { env, secret };
}

function hook(ctx: RenderCtx, svc: string, key: 'post_start' | 'pre_stop', hooks: ServiceSpec['post_start']): Record<string, unknown> | undefined {
  if (!hooks?.length) return undefined;
  if (hooks.length > 1 || hooks[0]!.user || hooks[0]!.privileged || hooks[0]!.working_dir || hooks[0]!.environment) {
    ctx.warn(['services', svc, key], 'Kubernetes runs one hook command as the container\'s user; only the first command is rendered');
  }
  return { exec: { command: hooks[0]!.command } };
}

function warnUnmapped(ctx: RenderCtx, svc: string, s: ServiceSpec, kind: WorkloadKind): void {
  const at = ['services', svc];
  for (const [k, why] of UNMAPPED) {
    const v = s[k];
    if (v === undefined || v === null || v === false || (Array.isArray(v) && !v.length) || (typeof v === 'object' && !Array.isArray(v) && !Object.keys(v).length)) continue;
    ctx.warn([...at, k], `${k} is not rendered: ${why}`);
  }
  if (ownNetworkMode(s.network_mode)) ctx.warn([...at, 'network_mode'], `network_mode ${formatMode(s.network_mode!)} is not rendered: each pod has its own network (hostNetwork is never a default)`);
  for (const [net, a] of Object.entries(s.networks)) {
    if (a?.ipv4_address || a?.ipv6_address) ctx.warn([...at, 'networks', net], 'fixed addresses are the cluster\'s to give; not rendered');
  }
  if (s.pull_policy === 'build') ctx.warn([...at, 'pull_policy'], 'pull_policy build: the image must be built and pushed before the cluster pulls it');
  if (s.deploy?.mode === 'global') ctx.warn([...at, 'deploy', 'mode'], 'mode global (one per node) is a DaemonSet; rendered as a Deployment');
  if (s.deploy?.restart_policy) ctx.warn([...at, 'deploy', 'restart_policy'], 'restart conditions, delays and attempts are the kubelet\'s; not rendered');
  if (s.deploy?.labels && Object.keys(s.deploy.labels).length) ctx.warn([...at, 'deploy', 'labels'], 'deploy.labels are put on the workload object');
  if (kind !== 'Job' && s.restart !== undefined && s.restart !== 'always' && s.restart !== 'unless-stopped') ctx.warn([...at, 'restart'], `restart ${s.restart}: a ${kind}'s pods are always restarted (a Job stands for a one-shot service others wait on)`);
  if (s.extra_hosts.some((h) => !/^[^:=]+[:=].+$/.test(h))) ctx.warn([...at, 'extra_hosts'], 'entries not HOST:IP are not rendered');
  if (s.image === undefined && s.build) ctx.warn([...at, 'image'], `no image named: the pod uses ${defaultImage(ctx, svc)}, which must be pushed where the cluster pulls from`);
}

function defaultImage(ctx: RenderCtx, svc: string): string {
  return `${ctx.model.name}-${svc}`;
}

function hostAliases(s: ServiceSpec): Record<string, unknown>[] | undefined {
  const byIp = new Map<string, string[]>();
  for (const h of s.extra_hosts) {
    const m = /^([^:=]+)[:=](.+)$/.exec(h);
    if (!m) continue;
    const ip = m[2]!.replace(/^\[|\]$/g, '');
    byIp.set(ip, [...(byIp.get(ip) ?? []), m[1]!]);
  }
  if (!byIp.size) return undefined;
  return [...byIp.keys()].sort().map((ip) => ({ ip, hostnames: byIp.get(ip)!.sort() }));
}

/** A pod hostname is one DNS label: `db.local` becomes `db-local`, said in a warning. */
function podHostname(ctx: RenderCtx, svc: string, h: string): string {
  const n = k8sName(ctx, ['services', svc, 'hostname'], h);
  if (n !== h) ctx.warn(['services', svc, 'hostname'], `hostname ${JSON.stringify(h)} is not one DNS label; the pod's hostname is ${n}`);
  return n;
}

const PULL: Record<string, string> = { always: 'Always', never: 'Never', missing: 'IfNotPresent', if_not_present: 'IfNotPresent' };

/** The objects of service `svc`: its workload and, when needed, its env Secret and the ConfigMaps of its bind-mounted files. */
export function workloadFor(ctx: RenderCtx, svc: string, ext: ServiceExtension, sext: StackExtension, kinds: Record<string, WorkloadKind>): K8sObject[] {
  const s = ctx.model.services[svc]!;
  const kind = kinds[svc]!;
  const at = ['services', svc];
  const name = k8sName(ctx, at, svc);
  warnUnmapped(ctx, svc, s, kind);
  const { env, secret } = environment(ctx, svc, s);
  const storage = podStorage(ctx, svc, s, ext);
  const sec = securityContext(ctx, svc, s);
  const res = resources(ctx, svc, s);
  const probes = probesFor(ctx, svc, s.healthcheck);
  const postStart = hook(ctx, svc, 'post_start', s.post_start);
  const preStop = hook(ctx, svc, 'pre_stop', s.pre_stop);
  const lifecycle = { ...(postStart ? { postStart } : {}), ...(preStop ? { preStop } : {}) };
  const ports = [...new Map(s.ports.map((p) => [`${p.target}/${p.protocol}`, { containerPort: p.target, protocol: p.protocol === 'udp' ? 'UDP' : 'TCP' }])).values()]
    .sort((a, b) => a.containerPort - b.containerPort || a.protocol.localeCompare(b.protocol));
  const container: Record<string, unknown> = {
    name,
    image: s.image ?? defaultImage(ctx, svc),
    ...(s.pull_policy && PULL[s.pull_policy] ? { imagePullPolicy: PULL[s.pull_policy] } : {}),
    ...(s.entrypoint ? { command: s.entrypoint } : {}),
    ...(s.command ? { args: s.command } : {}),
    ...(s.working_dir ? { workingDir: s.working_dir } : {}),
    ...(env.length ? { env } : {}),
    ...(ports.length ? { ports } : {}),
    ...(res ? { resources: res } : {}),
    ...(sec.container ? { securityContext: sec.container } : {}),
    ...probes,
    ...(Object.keys(lifecycle).length ? { lifecycle } : {}),
    ...(storage.mounts.length ? { volumeMounts: storage.mounts } : {}),
    ...(s.tty ? { tty: true } : {}),
    ...(s.stdin_open ? { stdin: true } : {}),
  };
  const waits = initWaits(ctx, svc, sext, kinds);
  const userLabels: Record<string, string> = {};
  const annotations: Record<string, string> = {};
  // tsstack.* labels select pods for Services and policies: a stack label must not forge them (it would join another network's policy)
  const asLabel = (k: string, v: string) => isLabelKey(k) && isLabelValue(v) && !k.startsWith('tsstack.');
  for (const [k, v] of Object.entries(s.labels)) {
    if (asLabel(k, v)) userLabels[k] = v;
    else annotations[k] = v;
  }
  const deployLabels = Object.fromEntries(Object.entries(s.deploy?.labels ?? {}).filter(([k, v]) => asLabel(k, v)));
  const dns = {
    ...(s.dns.length ? { nameservers: s.dns } : {}),
    ...(s.dns_search.length ? { searches: s.dns_search } : {}),
    ...(s.dns_opt?.length ? { options: s.dns_opt.map((o) => { const [n, v] = o.split(':'); return v === undefined ? { name: n } : { name: n, value: v }; }) } : {}),
  };
  const podLabels = { ...userLabels, ...projectLabels(ctx), ...selectorOf(ctx, svc), ...networkLabels(ctx, svc) };
  const podSpec: Record<string, unknown> = {
    ...(waits.length ? { serviceAccountName: waitAccountName(ctx), initContainers: waits } : {}),
    // no API token in the service's container, and no FOO_SERVICE_HOST/FOO_PORT variables Compose would not set (DB_PORT=tcp://… breaks apps reading DB_PORT)
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    containers: [container],
    ...(storage.volumes.length || waits.length ? { volumes: [...storage.volumes, ...(waits.length ? [tokenVolume()] : [])] } : {}),
    ...(sec.pod ? { securityContext: sec.pod } : {}),
    ...(s.hostname ? { hostname: podHostname(ctx, svc, s.hostname) } : {}),
    ...(hostAliases(s) ? { hostAliases: hostAliases(s) } : {}),
    ...(Object.keys(dns).length ? { dnsConfig: dns } : {}),
    ...(s.stop_grace_period !== undefined ? { terminationGracePeriodSeconds: Math.ceil(s.stop_grace_period / 1000) } : {}),
    ...(kind === 'Job' ? { restartPolicy: s.restart === 'no' || s.restart === undefined ? 'Never' : 'OnFailure' } : {}),
  };
  const template = { metadata: { labels: podLabels, ...(Object.keys(annotations).length ? { annotations } : {}) }, spec: podSpec };
  const meta = { name, labels: { ...userLabels, ...deployLabels, ...projectLabels(ctx), [LABEL_SERVICE]: serviceLabel(ctx, svc) }, ...(Object.keys(annotations).length ? { annotations } : {}) };
  let obj: K8sObject;
  if (kind === 'Job') {
    if (s.deploy?.update_config) ctx.warn([...at, 'deploy', 'update_config'], 'a Job is not updated in place; update_config is not rendered');
    const m = /^on-failure:(\d+)$/.exec(s.restart ?? '');
    obj = { apiVersion: 'batch/v1', kind: 'Job', metadata: meta, spec: { backoffLimit: m ? Number(m[1]) : s.restart === 'on-failure' ? 6 : 0, template } };
    if (replicasOf(s) !== 1) ctx.warn([...at, 'deploy', 'replicas'], 'a Job runs one pod to completion; replicas are not rendered');
  } else {
    // A ReadWriteOnce claim cannot be mounted by the new pod while the old one holds it: replace pods
    // as Compose replaces containers, old one stopped first (Recreate), not rolling.
    const rwo = s.volumes.some((v) => v.type === 'volume' && v.source && !ctx.model.volumes[v.source]?.external && (sext.volumes[v.source]?.accessModes ?? ['ReadWriteOnce']).includes('ReadWriteOnce'));
    const strategy = kind === 'Deployment' ? deploymentStrategy(ctx, svc, s, rwo) : undefined;
    if (kind === 'StatefulSet' && s.deploy?.update_config) ctx.warn([...at, 'deploy', 'update_config'], 'a StatefulSet replaces its pods one at a time, highest ordinal first; update_config is not rendered');
    const spec = { replicas: replicasOf(s), selector: { matchLabels: selectorOf(ctx, svc) }, template, ...(strategy ? { strategy } : {}) };
    obj = kind === 'StatefulSet'
      ? { apiVersion: 'apps/v1', kind, metadata: meta, spec: { ...spec, serviceName: name } }
      : { apiVersion: 'apps/v1', kind, metadata: meta, spec };
  }
  return [obj, ...(secret ? [secret] : []), ...storage.objects];
}
