// The host parts Containers drives, each behind a small interface (issue 15): Containers keeps the
// records and decides the order of things; a driver does one kind of host work.
//   bundle   the OCI bundle's config.json (written 0600: the environment may hold secrets)
//   monitor  tsstack-monitor: spawning it, its state file, its control socket, the processes it watches
//   attach   a foreground run on the caller's stdio (`run -it`), with no monitor
//   hooks    post_start/pre_stop commands run through the runtime's exec
//   runtime  the OCI runtime (runc CLI contract) of one binary and state root, and the cgroup it leaves
// The real ones are in kernel-drivers.ts; test/fakes/containers.ts keeps the same state in memory.
// The other engine parts Containers uses (rootfs, network, DNS, volumes) are in deps.ts.

import type { HookRun } from './lifecycle-hooks.js';
import type { MonitorOptions, MonitorState } from './monitor-client.js';
import type { DriverExecOptions, RunResult } from './runtime-driver.js';

export interface BundleDriver {
  /** Writes `<bundle>/config.json` (atomically, 0600; durably unless `durable: false`: a `run --rm` container's, as its record). */
  write(bundleDir: string, config: object, opts?: { durable?: boolean }): void | Promise<void>;
  read(bundleDir: string): Record<string, any>;
}

export interface MonitorDriver {
  /** Spawns the container's monitor (which creates and starts it through the runtime); its pid. */
  start(o: MonitorOptions): Promise<number>;
  /** The state file the monitor keeps (undefined: none, or unreadable). */
  state(statePath: string): MonitorState | undefined;
  /** Writes the state file in a monitor's place (an attached run, a container stopped after its monitor died). */
  writeState(statePath: string, st: MonitorState): void;
  /** `pid` is a live tsstack-monitor (not a reused pid). */
  isMonitor(pid: number): boolean;
  /** `pid` is a live monitor guard. */
  isGuard(pid: number): boolean;
  processAlive(pid: number): boolean;
  /**
   * `pid` is a live process in the cgroup of container `id` (never a reused pid), or, for a container
   * with no cgroup of its own (rootless without a delegated subtree), its init as the runtime recorded
   * it (`startTime`: field 22 of /proc/<pid>/stat then).
   */
  inContainer(pid: number, id: string, startTime?: string): boolean;
  /** One line to the control socket (`kill SIG`); the reply line. */
  control(socketPath: string, line: string): Promise<string>;
  /** Asks the monitor to stop the container within `timeoutMs` (it kills after). */
  requestStop(socketPath: string, monitorPid: number, timeoutMs?: number): Promise<void>;
  /** Resolves once the monitor has exited (or the state says it will not run again). */
  waitForExit(statePath: string, monitorPid: number, opts?: { timeoutMs?: number }): Promise<MonitorState | undefined>;
}

export interface AttachDriver {
  /**
   * `runtime run` in the foreground on the caller's stdio; SIGINT/SIGTERM/SIGHUP reaching this process
   * are passed on. `onPid` hears the container's pid once the runtime has written it. The exit code.
   */
  run(o: { runtime: string; runtimeRoot: string; bundle: string; pidFile: string; id: string }, onPid: (pid: number) => void): Promise<number>;
}

export interface HooksDriver {
  /** Runs a hook (`exec` arguments of the runtime `binary` with state root `root`), killed after `timeoutMs`. */
  run(binary: string, root: string, args: string[], timeoutMs?: number): Promise<HookRun>;
}

export interface RuntimeOps {
  readonly binary: string;
  readonly root: string;
  kill(id: string, signal?: string, all?: boolean): Promise<void>;
  /** Idempotent. */
  delete(id: string, force?: boolean): Promise<void>;
  exec(id: string, argv: string[], opts?: DriverExecOptions): Promise<number>;
  run(args: string[], input?: string): Promise<RunResult>;
}

export interface RuntimeDrivers {
  /** The runtime of one binary (resolved path) and state root. */
  open(binary: string, root: string): RuntimeOps;
  /** A runtime with state root `root` has a record of container `id` (whatever its binary). */
  has(root: string, id: string): boolean;
  /** Best effort: removes the empty cgroup directories `rel` (relative cgroupsPath) a crash left. */
  removeCgroup(rel: string): void;
  /** After runc or crun started a container with init `pid`: its cgroup v2 leaf `rel` on a hybrid host, made if the runtime lost it (kernel-drivers.ts). */
  placeInHybridLeaf?(rel: string, pid: number): void;
}

export interface ContainerDrivers {
  bundle: BundleDriver;
  monitor: MonitorDriver;
  attach: AttachDriver;
  hooks: HooksDriver;
  runtime: RuntimeDrivers;
}
