// The engine's seam: the only way reconcile/ and cli/ touch the host.
//
// Objects are found by labels (`tsstack.project`, `tsstack.service`,
// `tsstack.config-hash`, …), never by remembering. Each sub-API is implemented
// in its own folder (image/, runtime/, network/, volumes) and composed by
// engine/engine.ts. Fakes for tests implement the same interfaces.

import type { Bytes, DurationMs, Protocol, RestartPolicy } from '../model/types.js';

export type Labels = Record<string, string>;

export const LABEL = {
  project: 'tsstack.project',
  service: 'tsstack.service',
  number: 'tsstack.container-number',
  configHash: 'tsstack.config-hash',
  oneoff: 'tsstack.oneoff',
  network: 'tsstack.network',
  volume: 'tsstack.volume',
} as const;

// ---------------------------------------------------------------- images

/** An image's runtime defaults, as in the OCI image config's `config` object. */
export interface ImageRuntimeConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  ExposedPorts?: Record<string, object>;
  Volumes?: Record<string, object>;
  Labels?: Labels;
  StopSignal?: string;
  Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; StartInterval?: number; Retries?: number };
  Shell?: string[];
}

export interface ImageInfo {
  /** `sha256:<hex>` of the image config (the image id, as Docker reports it). */
  id: string;
  /** Names that point at it, normalized (`docker.io/library/redis:7`). */
  names: string[];
  /** Manifest digest when known (pulled/loaded). */
  digest?: string;
  config: ImageRuntimeConfig;
  /** Chain IDs of the layers, bottom first. */
  chainIds: string[];
  size: Bytes;
  created?: string;
}

export type PullPolicy = 'always' | 'missing' | 'never';

export interface BuildRequest {
  context: string;
  dockerfile?: string;
  dockerfileInline?: string;
  args: Record<string, string>;
  target?: string;
  labels: Labels;
  tags: string[];
  noCache?: boolean;
  /** Network of RUN steps without --network: `default` (a namespace of their own, outbound NAT), `none`, or `host` (warned). */
  network?: string;
  /** Progress lines (one per step, `#3 [2/5] RUN apk add …`, `CACHED`, …). */
  onProgress?: (line: string) => void;
}

export interface ImageApi {
  inspect(ref: string): Promise<ImageInfo | undefined>;
  list(): Promise<ImageInfo[]>;
  /** Ensure the image is present according to the policy; returns it. Throws a TsstackError if it cannot be had. */
  ensure(ref: string, policy: PullPolicy, onProgress?: (line: string) => void): Promise<ImageInfo>;
  pull(ref: string, onProgress?: (line: string) => void): Promise<ImageInfo>;
  /** Push the stored image `ref` names to the registry its name says; returns the pushed manifest (or index) digest. */
  push(ref: string, onProgress?: (line: string) => void): Promise<{ digest: string }>;
  build(req: BuildRequest): Promise<ImageInfo>;
  remove(ref: string, opts?: { force?: boolean }): Promise<void>;
  prune(): Promise<{ removedBlobs: number; removedLayers: number; reclaimed: Bytes }>;
  /** Mount an overlay root for a container: lower = the image's layers, upper/work under `dir`. Returns the merged path. */
  mountRootfs(imageId: string, dir: string): Promise<string>;
  unmountRootfs(dir: string): Promise<void>;
  /** Points `name` (normalized) at the image `ref` names (`image tag`). */
  tag(ref: string, name: string): Promise<void>;
  /** A one-layer image from a root filesystem (a tar, maybe compressed, or a directory), like `docker import`. */
  importRootfs(source: string, name: string, opts?: { config?: ImageRuntimeConfig; message?: string }): Promise<ImageInfo>;
  /** Images of a `docker save` / OCI archive (`image load`). */
  loadArchive(path: string, onProgress?: (line: string) => void): Promise<ImageInfo[]>;
  /** `image save`: the images `refs` name, as one archive at `path`. */
  saveArchive(refs: string[], path: string): Promise<void>;
}

// ---------------------------------------------------------------- networks

export interface NetworkCreateSpec {
  name: string;
  labels: Labels;
  internal?: boolean;
  subnet?: string;
  gateway?: string;
}

export interface NetworkInfo {
  name: string;
  id: string;
  bridge: string;
  subnet: string;
  gateway: string;
  internal: boolean;
  labels: Labels;
}

export interface EndpointSpec {
  network: string;
  aliases: string[];
  ipv4Address?: string;
}

export interface PublishedPort {
  hostIp?: string;
  /** Host port; a range is expanded by the caller into one entry per port. 0 = pick a free one. */
  hostPort: number;
  containerPort: number;
  protocol: Protocol;
}

/**
 * A published port bound to its container's address: the one port type below the request, from the
 * network state (`PortRecord`) to the nft map element (`nft-rules.ts`) and the eBPF map entry
 * (`socket-lb-programs.ts`), each adding only what it needs. `hostIp` undefined = every local address.
 */
export interface PortBinding extends PublishedPort {
  /** Container address the traffic is sent to. */
  address: string;
}

export interface NetworkApi {
  create(spec: NetworkCreateSpec): Promise<NetworkInfo>;
  inspect(name: string): Promise<NetworkInfo | undefined>;
  list(filter?: Labels): Promise<NetworkInfo[]>;
  remove(name: string): Promise<void>;
  /** Problems that would stop create() (overlap with host routes or other networks), without changing anything. */
  check(specs: NetworkCreateSpec[]): Promise<string[]>;
  /** Problems with host ports (in use by a process or another stack), naming who holds them. */
  checkPorts(ports: PublishedPort[], exceptContainer?: string): Promise<string[]>;
  /**
   * Deletes `bridges` no recorded network owns (named by an intent: a removal killed after forgetting its
   * network) and makes the firewall match the recorded networks again (recovery).
   */
  resync(bridges?: string[]): Promise<void>;
}

// ---------------------------------------------------------------- volumes

export interface VolumeInfo {
  name: string;
  /** Host directory holding the data. */
  mountpoint: string;
  labels: Labels;
  created: string;
}

export interface VolumeApi {
  create(name: string, labels: Labels): Promise<VolumeInfo>;
  inspect(name: string): Promise<VolumeInfo | undefined>;
  list(filter?: Labels): Promise<VolumeInfo[]>;
  remove(name: string): Promise<void>;
}

// ---------------------------------------------------------------- containers

/**
 * A secret or config file: the engine copies `source` into `<container>/files/` (0700, root's) at create and at every
 * start, owned by uid/gid (default: the container's user) with `mode`, and binds that copy read-only.
 */
export interface FileMountOptions { uid?: number; gid?: number; mode: number }

export type Mount =
  | { type: 'bind'; source: string; target: string; readOnly?: boolean; propagation?: string; file?: FileMountOptions }
  | { type: 'volume'; source: string; target: string; readOnly?: boolean }
  | { type: 'tmpfs'; target: string; size?: Bytes; mode?: number; readOnly?: boolean; uid?: number; gid?: number; nrInodes?: number; flags?: string[] };

export interface HealthcheckConfig {
  /** `["CMD", ...]` or `["CMD-SHELL", "..."]`. */
  test: string[];
  interval: DurationMs;
  timeout: DurationMs;
  retries: number;
  startPeriod: DurationMs;
  startInterval: DurationMs;
}

/** CFS quota/period in µs (explicit ones win over `cpus`; `cpus` with a period scales to it) and the soft memory limit. */
export interface ResourceExtras {
  cpuQuota?: number;
  cpuPeriod?: number;
  memoryReservation?: Bytes;
}

/** A command tsstack runs in the container as an exec (compose's post_start/pre_stop hooks). */
export interface LifecycleHook {
  argv: string[];
  /** As `user:` of the service (name or uid[:gid], resolved in the container's root); absent = the container's user. */
  user?: string;
  /** Every capability the host can give, added to the exec'd process. */
  privileged?: boolean;
  cwd?: string;
  /** `K=V`, added to the container's environment. */
  env?: string[];
}

/** Everything needed to make a container; already merged with the image's defaults by the caller. */
export interface ContainerCreateSpec {
  name: string;
  image: string;
  /** Image id (`sha256:…`) resolved before create. */
  imageId: string;
  labels: Labels;
  /**
   * Removed by the command that made it (`run --rm`): its record is written without fsync
   * (fs-atomic.ts), as nothing of it is to be kept after a power cut. A kill leaves a whole record
   * (recovery, `down`); a power cut a missing or empty one (recovery removes the directory) or an
   * earlier one (an exited one-off container, which `down` or `rm` removes).
   */
  ephemeral?: boolean;
  /**
   * false: the DNS server does not answer to the service's names (`web`, `web.<project>`, from the
   * `tsstack.service` label) for this container, as Compose's one-off containers of `run` without
   * `--use-aliases`, which answer to their own name only. Default: it does.
   */
  serviceNames?: boolean;
  /** Final argv (entrypoint + command). */
  args: string[];
  env: string[];
  cwd: string;
  user?: string;
  groupAdd?: string[];
  hostname: string;
  domainname?: string;
  tty?: boolean;
  stdinOpen?: boolean;
  /** Run a small init as PID 1 (tsstack-init) that forwards signals to `args` and reaps zombies. */
  init?: boolean;
  readOnlyRoot?: boolean;
  privileged?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  mounts: Mount[];
  /** Networks in priority order; the first one carries the default route. Empty = no network (loopback only). */
  endpoints: EndpointSpec[];
  networkMode?: 'none' | 'host' | `container:${string}`;
  /** Namespaces shared instead of made: `host`, or another container's (by name or id; it must be running). */
  pidMode?: 'host' | `container:${string}`;
  ipcMode?: 'host' | `container:${string}`;
  utsMode?: 'host';
  /** process.noNewPrivileges (Docker's default: false). */
  noNewPrivileges?: boolean;
  /** `unconfined`, or the absolute path of a Docker seccomp profile (JSON) to apply. Absent: the default profile (seccomp-default.ts), none when privileged. */
  seccomp?: string;
  /** Cgroup the container's own is made under (`tsstack` when absent). */
  cgroupParent?: string;
  /** Host device nodes made in the container (`permissions`: some of r, w, m); create() fails if one is missing. */
  devices?: { source: string; target: string; permissions: string }[];
  /** Extra allow rules of the device cgroup (`type` a/b/c; an absent major/minor is any). */
  deviceCgroupRules?: { type: 'a' | 'b' | 'c'; major?: number; minor?: number; access: string }[];
  ports: PublishedPort[];
  extraHosts?: string[];
  dns?: string[];
  dnsSearch?: string[];
  sysctls?: Record<string, string>;
  ulimits?: Record<string, { soft: number; hard: number }>;
  resources: { memory?: Bytes; memorySwap?: Bytes; cpus?: number; cpuShares?: number; cpuset?: string; pids?: number; shmSize?: Bytes; oomScoreAdj?: number } & ResourceExtras;
  restart: RestartPolicy;
  stopSignal: string;
  stopGracePeriod: DurationMs;
  healthcheck?: HealthcheckConfig;
  /** Rotation of the container's log (the monitor's defaults when absent: 10 MiB, 3 files); 0 = no rotation. */
  logMaxSize?: Bytes;
  logMaxFiles?: number;
  /** `none`: no log is kept (`logs` then says so); absent = `json-file`. */
  logDriver?: 'json-file' | 'none';
  /** `options` line of /etc/resolv.conf (compose `dns_opt`). */
  dnsOptions?: string[];
  /** Runtime binary: `tsstack-runtime` (default), `runc` or `crun`. */
  runtime?: string;
  /**
   * Run in order by `start` once the container runs (the first failing one makes `start` throw, naming it;
   * the container keeps running, as with Compose), and by `stop` before the stop signal, within the grace
   * period (a failing or overdue one does not keep the container from stopping).
   */
  postStart?: LifecycleHook[];
  preStop?: LifecycleHook[];
  /**
   * Binds and volumes of other containers (by name or id; they must exist) mounted at the same targets
   * (not their tmpfs); `readOnly` true/false overrides their mode, absent keeps it. Targets in `mounts` win.
   */
  volumesFrom?: { container: string; readOnly?: boolean }[];
}

export type ContainerStatus = 'created' | 'running' | 'restarting' | 'paused' | 'exited' | 'dead';
export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

export interface ContainerInfo {
  id: string;
  name: string;
  image: string;
  imageId: string;
  labels: Labels;
  status: ContainerStatus;
  health?: HealthStatus;
  /** Output of the last health check (while running with a healthcheck): what the dashboard shows beside the health. */
  healthOutput?: string;
  exitCode?: number;
  oomKilled?: boolean;
  pid?: number;
  created: string;
  startedAt?: string;
  finishedAt?: string;
  restartCount: number;
  /** Network name → address. */
  addresses: Record<string, string>;
  ports: PublishedPort[];
  /** Its monitor died while the container kept running: nothing supervises it (status says `running`). */
  unsupervised?: boolean;
}

export interface LogOptions {
  follow?: boolean;
  tail?: number;
  since?: Date;
  timestamps?: boolean;
  /**
   * Ends a read early: once aborted, the iterator returns (also while `follow`
   * is waiting for new lines), holding no file or timer afterwards.
   */
  signal?: AbortSignal;
  /**
   * The writer is finishing (its container exited): once aborted, a `follow` stops batching and
   * looks at once, reads what is left and ends when the writer is done.
   */
  finish?: AbortSignal;
}

export interface LogLine {
  time: string;
  stream: 'stdout' | 'stderr';
  log: string;
}

/** A piece of a container's output, byte for byte as it wrote it, on the stream it wrote it to. */
export interface OutputChunk {
  stream: 'stdout' | 'stderr';
  bytes: Buffer;
}

export interface ExecOptions {
  tty?: boolean;
  interactive?: boolean;
  /** Start the process and return at once (0), its output discarded (`exec -d`). */
  detach?: boolean;
  env?: string[];
  user?: string;
  cwd?: string;
}

export interface ContainerStats {
  cpuPercent: number;
  memoryUsage: Bytes;
  memoryLimit?: Bytes;
  pids: number;
  netRx: Bytes;
  netTx: Bytes;
}

export interface ContainerApi {
  /**
   * `startSoon`: the caller starts it next (`up`, `run`), so the engine may get ready meanwhile what a
   * start needs and a create does not (this namespace's DNS server): not waited for by the create.
   */
  create(spec: ContainerCreateSpec, opts?: { startSoon?: boolean }): Promise<ContainerInfo>;
  start(id: string): Promise<void>;
  stop(id: string, timeoutMs?: DurationMs): Promise<void>;
  kill(id: string, signal?: string): Promise<void>;
  remove(id: string, opts?: { force?: boolean }): Promise<void>;
  inspect(idOrName: string): Promise<ContainerInfo | undefined>;
  list(filter?: Labels): Promise<ContainerInfo[]>;
  logs(id: string, opts: LogOptions): AsyncIterable<LogLine>;
  /**
   * The container's output from its start (the oldest log file kept), byte for byte and in the order
   * written, each piece on its stream; with `follow`, until the container has ended (`finish`: it is
   * ending, look at once). What `run` shows: unlike `logs`, nothing is changed, joined or left out.
   * Nothing for a container whose logging driver is `none`.
   */
  output(id: string, opts: Pick<LogOptions, 'follow' | 'signal' | 'finish'>): AsyncIterable<OutputChunk>;
  /** Runs a process in the container; resolves with its exit code. Stdio is inherited unless streams are given. */
  exec(id: string, argv: string[], opts: ExecOptions): Promise<number>;
  wait(id: string): Promise<number>;
  /**
   * Runs the container in the foreground on the caller's stdio (`run -it`/`run -i`): no monitor, no log; a pty
   * when the spec has `tty` and stdin is a terminal. Resolves with its exit code.
   */
  runAttached(id: string): Promise<number>;
  top(id: string): Promise<{ pid: number; cmd: string }[]>;
  stats(id: string): Promise<ContainerStats>;
  /**
   * Copy between host and container: exactly one side is `container:path`. `archive` (-a) keeps owners,
   * `followLink` (-L) follows a source that is a link. Says what it left out (sockets, device nodes).
   */
  copy(id: string, from: string, to: string, direction: 'in' | 'out', opts?: { archive?: boolean; followLink?: boolean }): Promise<{ skipped: string[] }>;
}

// ---------------------------------------------------------------- health

/** Something the records say exists or runs that the host lacks (found by a cheap look at the real state). */
export interface Fault {
  /** `dns`, `firewall` or `network:<name>`. */
  resource: string;
  /** Why, for people: `server not running`, `bridge tss-… missing`, … */
  cause: string;
}

export interface HealthApi {
  /**
   * What running containers on `networks` need and the host lacks: the bridges and their links, the
   * nftables table (when networks are given), this network namespace's DNS server (with `dns`).
   */
  check(networks: string[], opts: { dns: boolean }): Promise<Fault[]>;
  /** Rebuilds what `faults` name from the records (idempotent). */
  repair(faults: Fault[]): Promise<void>;
}

// ---------------------------------------------------------------- host files

/** What reconcile asks to be made on the host outside containers (only the engine writes there). */
export interface HostApi {
  /** Each missing path becomes a directory (bind sources with `create_host_path`); existing ones are left alone. */
  makeBindSources(paths: string[]): Promise<void>;
  /** Configs/secrets generated from content: written 0600 in 0700 directories; an existing file is kept (names carry a content hash). */
  writeGeneratedFiles(files: { path: string; content: string }[]): Promise<void>;
  /** `down` removed everything of the project: its generated files (configs, secrets from content) go too. */
  forgetProject(project: string): Promise<void>;
}

// ---------------------------------------------------------------- state fingerprint

/**
 * A digest of everything observing the engine reads (its state files' stamps, the liveness of the
 * processes they name, the host facts health checks): equal fingerprints, equal observations.
 */
export interface StateFingerprint {
  digest: string;
  /** Monitor pids the state names (give them back to check a recorded fingerprint without reading files). */
  pids: number[];
  /** Something changed too recently for its stamp to vouch for it: do not record this one. */
  racy: boolean;
  /** When racy, how long until the newest stamp is old enough (ms); 0 otherwise. */
  racyForMs: number;
}

// ---------------------------------------------------------------- crash safety

export interface RecoveryReport {
  /** What was finished or undone, one line each (for --debug and tests). */
  done: string[];
  /** What could not be cleaned now (it is retried by the next command). */
  problems: string[];
}

/** A multi-step change of a project begun and not (yet) ended (engine/intents.ts). */
export interface PendingChange {
  kind: 'container' | 'network';
  op: 'create' | 'remove';
  name: string;
  /** Its writer died: the change was interrupted (`recover` undoes it); else it may still be under way. */
  dead: boolean;
}

export interface Engine {
  root: string;
  runRoot: string;
  images: ImageApi;
  networks: NetworkApi;
  volumes: VolumeApi;
  containers: ContainerApi;
  /** Absent in engines (fakes) that have nothing to check. */
  health?: HealthApi;
  host: HostApi;
  /**
   * Cheap (stats and /proc reads): the fingerprint of the engine's state. With `pids` (of a recorded
   * fingerprint) no state file is read. The same as engine/fingerprint.ts `stateFingerprint(root, runRoot)`,
   * which the CLI's no-op `up` path calls without opening the engine.
   */
  stateFingerprint(opts?: { pids?: number[] }): Promise<StateFingerprint>;
  /** Changes of `project` begun and not ended (cheap: one readdir when there are none). */
  pendingChanges(project: string): Promise<PendingChange[]>;
  /** Under the project's lock: finishes or undoes what killed commands of `project` left half made. Never throws. */
  recover(project: string): Promise<RecoveryReport>;
  /**
   * (down) `containers` of `project` are stopped and will be removed, then `networks`: each is recorded as
   * being removed (intents: from here on a killed command's removal is finished by the next one) and their
   * links go now, in one kernel batch (NetworkManager.prepareRemoval). Only makes their removals quicker:
   * they do everything without it. Resolves once the links' deletion is under way (the removals may
   * begin); `done` once it is over (rejects when a link could not be deleted at all).
   */
  prepareRemoval?(project: string, containers: string[], networks: string[]): Promise<{ done: Promise<void> }>;
  close(): Promise<void>;
}
