// The desired-state model: what stack/ produces and reconcile/ consumes.
//
// Keys follow the Compose Specification's long form (snake_case), so that
// `tsstack config` prints the model and compares with the conformance oracles.
// Every short syntax has been expanded and parsed by the loader: port ranges
// are numbers, `service:`/`container:` references are `Ref`s, links, tmpfs,
// security options, volumes_from and device cgroup rules are typed entries;
// paths are absolute; durations are milliseconds and byte sizes are bytes.
// The printer writes them back as Compose does (`1m30s`, `"9000-9005"`,
// `service:db`: model/format.ts, stack/render.ts).

/** Milliseconds. */
export type DurationMs = number;
/** Bytes. */
export type Bytes = number;

export interface StackModel {
  /** Project name (lower-case, [a-z0-9_-]). */
  name: string;
  /** Absolute project directory (relative paths were resolved against it). */
  workingDir: string;
  /** Absolute paths of every file read (stack files, includes, extends, env files): watch mode watches them. */
  sourceFiles: string[];
  services: Record<string, ServiceSpec>;
  networks: Record<string, NetworkSpec>;
  volumes: Record<string, VolumeSpec>;
  secrets: Record<string, FileObjectSpec>;
  configs: Record<string, FileObjectSpec>;
  /** Profiles named anywhere in the file (for `config --profiles`). */
  allProfiles: string[];
  /** `x-*` keys at the top level. */
  extensions: Record<string, unknown>;
  warnings: SpecWarning[];
  /** Where some values came from, for problems found after loading (e.g. `services.web.devices[0]` → file and line); absent when none. */
  lines?: Record<string, { file: string; line?: number }>;
}

export interface SpecWarning {
  file: string;
  line?: number;
  /** Dotted path, e.g. `services.web.cgroup_parent`. */
  path: string;
  message: string;
}

export type RestartPolicy = 'no' | 'always' | 'unless-stopped' | `on-failure` | `on-failure:${number}`;

export interface ServiceSpec {
  image?: string;
  build?: BuildSpec;
  /** null = use the image's. */
  command?: string[] | null;
  entrypoint?: string[] | null;
  /** null value = declared without a value and not present in the environment. */
  environment: Record<string, string | null>;
  working_dir?: string;
  user?: string;
  hostname?: string;
  domainname?: string;
  container_name?: string;
  labels: Record<string, string>;
  ports: PortSpec[];
  expose: string[];
  volumes: ServiceVolume[];
  /** `tmpfs:` entries, `TARGET[:OPTIONS]` parsed (the options as written for `config`, and their meaning for the engine). */
  tmpfs: TmpfsEntry[];
  depends_on: Record<string, DependsOn>;
  /**
   * Legacy links, `SERVICE` or `SERVICE:ALIAS` (absent when none). Each is also an implicit `depends_on`
   * entry. The alias is answered by DNS on the networks the linked service is on (so every service sharing
   * such a network sees it, not only the linking one: simpler than per-client views, and enough for links).
   */
  links?: Link[];
  /** Network name (key of StackModel.networks) → attachment. */
  networks: Record<string, NetworkAttachment>;
  /** `none`, `host`, `bridge`… as written, or another's network namespace (`service:NAME` / `container:NAME` parsed). */
  network_mode?: string | Ref;
  healthcheck?: HealthcheckSpec;
  deploy?: DeploySpec;
  restart?: RestartPolicy;
  stop_signal?: string;
  stop_grace_period?: DurationMs;
  tty?: boolean;
  stdin_open?: boolean;
  init?: boolean;
  read_only?: boolean;
  privileged?: boolean;
  cap_add: string[];
  cap_drop: string[];
  ulimits: Record<string, { soft: number; hard: number }>;
  sysctls: Record<string, string>;
  extra_hosts: string[];
  dns: string[];
  dns_search: string[];
  /** Short forms of deploy.resources.limits, kept as written (config prints what was written); deploy's value wins where both are given. */
  mem_limit?: Bytes;
  memswap_limit?: Bytes;
  cpus?: number;
  cpu_shares?: number;
  cpuset?: string;
  pids_limit?: number;
  shm_size?: Bytes;
  oom_score_adj?: number;
  /** CFS quota and period, microseconds (`cpus` is their short form; these win when both are given). */
  cpu_quota?: number;
  cpu_period?: number;
  /** Soft memory limit (cgroup v1 memory.soft_limit_in_bytes, v2 memory.low). */
  mem_reservation?: Bytes;
  /** Resolver options for the container's /etc/resolv.conf (`options` line), e.g. `ndots:2`. */
  dns_opt?: string[];
  /** As written (Compose keeps driver options as strings); stack/ has checked `max-size` and `max-file`. */
  logging?: LoggingSpec;
  group_add: string[];
  profiles: string[];
  scale?: number;
  pull_policy?: 'always' | 'never' | 'missing' | 'build' | 'if_not_present';
  secrets: FileObjectRef[];
  configs: FileObjectRef[];
  develop?: DevelopSpec;
  /** Namespace sharing: `host` or another's (ipc also `private`/`shareable`); absent = its own. */
  pid?: NamespaceMode;
  ipc?: NamespaceMode;
  uts?: 'host';
  /** Parsed entries (a `seccomp=` profile path made absolute); unsupported ones were warned about and are `ignored`. */
  security_opt?: SecurityOpt[];
  /** `os/arch[/variant]` the service's image must be for. */
  platform?: string;
  /** Cgroup the container's cgroup is made under (instead of `tsstack/`). */
  cgroup_parent?: string;
  /** Lifecycle hooks: run in the container (as execs) after it starts / before tsstack stops it; absent when none. */
  post_start?: ServiceHook[];
  pre_stop?: ServiceHook[];
  /** `SERVICE`, `service:SERVICE` or `container:NAME`, optionally `:ro`/`:rw`, parsed; a service reference names a service of the stack. */
  volumes_from?: VolumesFromEntry[];
  /** Host devices made in the container (`devices`, long form); absent when none. */
  devices?: DeviceMapping[];
  /** Docker's device cgroup rules (`c 1:3 rwm`), parsed; absent when none. */
  device_cgroup_rules?: DeviceCgroupRule[];
  /** `x-*` keys of the service. */
  extensions: Record<string, unknown>;
}

/** Another service of the stack, or a container by name: `service:NAME` / `container:NAME`. */
export type Ref = { kind: 'service'; name: string } | { kind: 'container'; name: string };

/** `pid`/`ipc`: the host's namespace, ipc's `private`/`shareable`, or another's. */
export type NamespaceMode = 'host' | 'private' | 'shareable' | Ref;

/** A legacy link `SERVICE[:ALIAS]`. */
export interface Link {
  service: string;
  /** Absent: the service's name. */
  alias?: string;
}

/** One `tmpfs:` entry, `TARGET[:OPTIONS]`. */
export interface TmpfsEntry {
  /** Path in the container. */
  target: string;
  /** Mount options as written (`size=64m,mode=1777`); what `config` prints. */
  options?: string;
  /** Parsed from `options`: tmpfs's own settings (absent: the kernel's default). */
  size?: Bytes;
  mode?: number;
  uid?: number;
  gid?: number;
  nrInodes?: number;
  /** Mount flags in the order written (`exec`, `ro`, `noatime`…), applied after the defaults `nosuid,nodev,noexec`. */
  flags?: string[];
}

/** A `volumes_from` entry: whose mounts, and `:ro` (true) / `:rw` (false) / as theirs (absent). `written` is what `config` prints. */
export type VolumesFromEntry = Ref & { readOnly?: boolean; written: string };

/**
 * A `security_opt` entry: `no-new-privileges`, `seccomp` (`unconfined`, `builtin` or an absolute profile path),
 * or one tsstack does not apply (warned about at load). `written` is what `config` prints.
 */
export type SecurityOpt = ({ key: 'no-new-privileges'; value: boolean } | { key: 'seccomp'; value: string } | { key: 'ignored' }) & { written: string };

/** A device cgroup rule: type `a` (all), `b` or `c`; an absent major/minor is `*`. */
export interface DeviceCgroupRule {
  type: 'a' | 'b' | 'c';
  major?: number;
  minor?: number;
  /** Some of r, w, m (each at most once). */
  access: string;
}

/** One `devices` entry: host device node, path in the container, permissions (some of r, w, m). */
export interface DeviceMapping {
  source: string;
  target: string;
  permissions: string;
}

/** One lifecycle hook (`post_start`/`pre_stop` entry). */
export interface ServiceHook {
  command: string[];
  user?: string;
  privileged?: boolean;
  /** Absolute path in the container. */
  working_dir?: string;
  environment?: Record<string, string>;
}

export interface LoggingSpec {
  /** `json-file` (default), `local`, `none`; other drivers are warned about and run as json-file. */
  driver?: string;
  /** `max-size` (`10m`), `max-file` (`3`), …; unknown ones were warned about. */
  options?: Record<string, string>;
}

export interface BuildSpec {
  /** Absolute path of the build context. */
  context: string;
  /** Relative to context, default `Dockerfile`; absent when dockerfile_inline is given. */
  dockerfile?: string;
  dockerfile_inline?: string;
  args: Record<string, string | null>;
  target?: string;
  labels: Record<string, string>;
  tags: string[];
  no_cache?: boolean;
  network?: string;
}

export type Protocol = 'tcp' | 'udp';

/** Host ports `start`–`end`, inclusive (one port: start = end). A range gives replica n port start + n - 1 (start when past the end). */
export interface PortRange {
  start: number;
  end: number;
}

export interface PortSpec {
  /** Container port. */
  target: number;
  /** Host port or range (`8080` is `{ start: 8080, end: 8080 }`); absent = ephemeral. `config` prints it as Compose writes it (`"9000-9005"`). */
  published?: PortRange;
  host_ip?: string;
  protocol: Protocol;
  mode: 'ingress' | 'host';
  name?: string;
  app_protocol?: string;
}

export type ServiceVolume =
  | { type: 'bind'; source: string; target: string; read_only?: boolean; bind?: { propagation?: string; create_host_path?: boolean; selinux?: string } }
  | { type: 'volume'; source?: string; target: string; read_only?: boolean; volume?: { nocopy?: boolean; subpath?: string } }
  | { type: 'tmpfs'; target: string; read_only?: boolean; tmpfs?: { size?: Bytes; mode?: number } };

export type DependsOnCondition = 'service_started' | 'service_healthy' | 'service_completed_successfully';

export interface DependsOn {
  condition: DependsOnCondition;
  required: boolean;
  restart?: boolean;
}

export interface NetworkAttachment {
  aliases?: string[];
  ipv4_address?: string;
  ipv6_address?: string;
  priority?: number;
}

export interface HealthcheckSpec {
  /** `["NONE"]`, `["CMD", ...]` or `["CMD-SHELL", "..."]`. */
  test?: string[];
  interval?: DurationMs;
  timeout?: DurationMs;
  retries?: number;
  start_period?: DurationMs;
  start_interval?: DurationMs;
  disable?: boolean;
}

export interface ResourceLimits {
  cpus?: number;
  memory?: Bytes;
  pids?: number;
}

export interface DeploySpec {
  mode?: 'replicated' | 'global';
  replicas?: number;
  resources?: { limits?: ResourceLimits; reservations?: ResourceLimits };
  restart_policy?: { condition?: 'none' | 'on-failure' | 'any'; delay?: DurationMs; max_attempts?: number; window?: DurationMs };
  labels?: Record<string, string>;
  /** How replicas are replaced on a cluster (render/deploy); one host ignores it. */
  update_config?: UpdateConfig;
  /** Cluster-only keys (deploy --to swarm); `up` on one host has no use for them. */
  endpoint_mode?: 'vip' | 'dnsrr';
  placement?: { constraints?: string[]; preferences?: { spread: string }[]; max_replicas_per_node?: number };
  rollback_config?: UpdateConfig;
}

export interface UpdateConfig {
  parallelism?: number;
  delay?: DurationMs;
  failure_action?: 'continue' | 'rollback' | 'pause';
  monitor?: DurationMs;
  max_failure_ratio?: number;
  order?: 'stop-first' | 'start-first';
}

export interface DevelopSpec {
  watch: WatchRule[];
}

export interface WatchRule {
  /** Absolute host path. */
  path: string;
  action: 'sync' | 'rebuild' | 'sync+restart' | 'sync+exec' | 'restart';
  target?: string;
  ignore?: string[];
  include?: string[];
  exec?: { command: string[]; user?: string; privileged?: boolean; working_dir?: string; environment?: Record<string, string> };
  initial_sync?: boolean;
}

export interface NetworkSpec {
  /** Name of the real network: `<project>_<key>` unless `name:` or external. */
  name: string;
  driver?: string;
  internal?: boolean;
  external?: boolean;
  attachable?: boolean;
  enable_ipv6?: boolean;
  ipam?: { driver?: string; config: { subnet?: string; gateway?: string; ip_range?: string }[] };
  driver_opts: Record<string, string>;
  labels: Record<string, string>;
}

export interface VolumeSpec {
  /** Name of the real volume: `<project>_<key>` unless `name:` or external. */
  name: string;
  driver?: string;
  external?: boolean;
  driver_opts: Record<string, string>;
  labels: Record<string, string>;
}

export interface FileObjectSpec {
  name: string;
  /** Absolute path. */
  file?: string;
  /** Variable the value comes from; stack/ resolves it at load time into `content` (when set). */
  environment?: string;
  /** Inline value, or the resolved value of `environment` (then never printed by `config`). */
  content?: string;
  external?: boolean;
}

export interface FileObjectRef {
  source: string;
  target?: string;
  uid?: string;
  gid?: string;
  mode?: number;
}
