// Containers: the engine's ContainerApi. Each container is a directory
// `<root>/containers/<id>/` holding `container.json` (the create spec and what
// was made for it), `bundle/config.json`, the overlay (`rootfs`, `upper`,
// `work`), `hostname`/`hosts`/`resolv.conf`, and what its monitor writes:
// `state.json`, `log.json*`. There is no daemon: list/inspect read these
// directories, and a running container is supervised by its tsstack-monitor
// (socket and pid under `<runRoot>/monitor/<id12>/`).

import { execFileSync } from 'node:child_process';
import { randomBytes } from '../../util/digest.js';
import { mkdir, writeFile } from '../../util/fs-now.js';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync, type Dirent } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { TsstackError } from '../../util/errors.js';
import { writeJsonAtomic, writeJsonAtomicSync } from '../../util/fs-atomic.js';
import { faultPoint } from '../../util/fault.js';
import type {
  ContainerApi, ContainerCreateSpec, ContainerInfo, ContainerStats, ContainerStatus, ExecOptions, Labels, LifecycleHook, LogLine, LogOptions, OutputChunk, PublishedPort,
} from '../api.js';
import { hookExecArgs, hookFailure, hookOwner, type HookRun } from './lifecycle-hooks.js';
import { nativeBinary, resolveRuntime } from '../native-paths.js';
import { cgroupPaths, cgroupPids, hasOwnCgroup, netBytes, readRawStats, recordedInitStart } from './cgroup-stats.js';
import type { ContainerDeps, DnsProvider, EndpointResult, SandboxProvider } from './deps.js';
import { parseExtraHost, renderHostnameFile, renderHostsFile, resolvConfFromHost, withResolvOptions } from './etc-files.js';
import { copyAt, openProcessRoot, resolveInRoot, type CopyOptions, type CopyReport } from './in-root.js';
import { readLogs, readOutput } from './logs.js';
import { DirWake } from '../../util/dir-wake.js';
import type { MonitorState } from './monitor-client.js';
import { containerInfoOf, monitorAlive, orphanPid } from './container-info.js';
import { buildOciSpec, OCI_AS_IS, pick, capsFromMask, effectiveCaps, type NamespaceChoice, type OciMountInput, type OciSpecInput } from './oci-spec.js';
import { defaultSeccomp, loadSeccompProfile } from './seccomp-profile.js';
import { hostDevices } from './devices.js';
import { tryUnmount, unmountTree } from './umount.js';
import { beginIntent, endIntent } from '../intents.js';
import { resolveUserInRootfs, type ResolvedUser } from './users.js';
import { hostMaskedPaths } from './host-masks.js';
import { FILES_DIR, placeFileMounts } from './file-mounts.js';
import type { ContainerDrivers, RuntimeOps } from './drivers.js';
import { kernelContainerDrivers } from './kernel-drivers.js';
import { removeTree } from './remove-tree.js';
import { spreadSubdirs } from '../../util/spread-dirs.js';
import { applicableResources, containerCgroupPath } from '../rootless/cgroups.js';
import { portdAnnotations } from '../rootless/portd.js';
import { phase } from '../../util/phase-trace.js';

/** runc's (and crun's) words when a cgroup directory's parent vanished under its mkdir. */
const CGROUP_PARENT_GONE = /cgroup[^\n]*: no such file or directory/i;

/** A start's DNS names, written: `loaded` settles once the server has them, with the error if it did not load them. */
interface NamesLoad { loaded: Promise<Error | undefined> }

export { removeCgroupDirs } from './kernel-drivers.js';

/** What `container.json` holds. */
export interface ContainerRecord {
  id: string;
  name: string;
  created: string;
  spec: ContainerCreateSpec;
  rootfs: string;
  /** Pinned network namespace joined by the container, when one was made for it. */
  netnsPath?: string;
  endpoints: EndpointResult[];
  /** Published ports as granted (ephemeral host ports resolved). */
  ports: PublishedPort[];
  /** Pid of the monitor last started for it: written by older versions only (the monitor's state file names it; start no longer rewrites the record). */
  monitorPid?: number;
  /** Binds and volumes as mounted (host sources resolved), for `copy`. */
  mounts?: OciMountInput[];
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** How often wait() looks without a change of the state file (a monitor killed outright writes none). */
const WAIT_SAFETY_POLL_MS = 500;
/** Reads 3 ms apart after the state says exited, before the wait is left to the monitor's pid file going. */
const WAIT_QUICK_READS = 3;

/** Waits until one of `wakes` sees its change (or `ms` pass); the others' waits end with it. */
async function firstOf(wakes: DirWake[], ms: number): Promise<void> {
  const done = new AbortController();
  const waits = wakes.map((w) => w.wait(ms, done.signal));
  await Promise.race(waits);
  done.abort();
  await Promise.all(waits);
}

/** Polls `f` every 20 ms until it holds or `ms` pass; whether it held. */
async function until(f: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; ; await sleep(20)) {
    if (f()) return true;
    if (Date.now() >= end) return false;
  }
}

function healthArgv(test: string[] | undefined): string[] | undefined {
  if (!test || test.length === 0) return undefined;
  const [kind, ...rest] = test;
  if (kind === 'NONE') return undefined;
  if (kind === 'CMD') return rest.length ? rest : undefined;
  if (kind === 'CMD-SHELL') return rest.length ? ['/bin/sh', '-c', rest.join(' ')] : undefined;
  return test; // a bare argv
}

/** `container:/path` or `name:/path` → `/path`; a host path is returned as is. */
function containerSide(p: string): string {
  const i = p.indexOf(':');
  return i > 0 && !p.startsWith('/') && !p.startsWith('.') ? p.slice(i + 1) : p;
}

function isMountpoint(path: string): boolean {
  try {
    // (absent, as before a create's mount: no exception)
    const st = statSync(path, { throwIfNoEntry: false });
    return !!st && st.dev !== statSync(dirname(path)).dev;
  } catch {
    return false;
  }
}

let boundingCaps: string[] | undefined;
/** The capabilities this process can hand to a container (its bounding set); every one Linux knows if unreadable. */
function hostCaps(): string[] | undefined {
  if (!boundingCaps) {
    const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (!m) return undefined;
    boundingCaps = capsFromMask(m[1]!);
  }
  return boundingCaps;
}

export class Containers implements ContainerApi {
  private warn(message: string): void {
    if (this.deps.warn) this.deps.warn(message);
    else process.stderr.write(`warning: ${message}\n`);
  }

  readonly root: string;
  readonly runRoot: string;
  private readonly dir: string;
  private readonly runtimeRoot: string;
  /** The host parts: bundle, monitor, attach, hooks, runtime (drivers.ts). */
  private readonly drv: ContainerDrivers;

  constructor(private readonly deps: ContainerDeps) {
    this.drv = { ...kernelContainerDrivers, ...deps.drivers };
    this.root = deps.root;
    this.runRoot = deps.runRoot;
    this.dir = join(deps.root, 'containers');
    this.runtimeRoot = join(deps.runRoot, 'runtime');
  }

  // ------------------------------------------------------------ paths & records

  private cdir(id: string): string { return join(this.dir, id); }
  private monDir(id: string): string { return join(this.runRoot, 'monitor', id.slice(0, 12)); }
  private statePath(id: string): string { return join(this.cdir(id), 'state.json'); }
  private logPath(id: string): string { return join(this.cdir(id), 'log.json'); }
  private socketPath(id: string): string { return join(this.monDir(id), 'ctl.sock'); }

  private readonly spread = new Set<string>();
  /** Each container's directories in a block group of their own (util/spread-dirs.ts): once per directory and process. */
  private spreadOnce(dir: string): void {
    if (this.spread.has(dir)) return;
    this.spread.add(dir);
    spreadSubdirs(dir);
  }

  private runtimeName(rec: ContainerRecord): string {
    return rec.spec.runtime ?? this.deps.runtime ?? 'tsstack-runtime';
  }

  /** The driver for a container's runtime. */
  driver(rec: ContainerRecord): RuntimeOps {
    return this.drv.runtime.open(resolveRuntime(this.runtimeName(rec)), this.runtimeRoot);
  }

  private readRecord(id: string): ContainerRecord | undefined {
    try {
      return JSON.parse(readFileSync(join(this.cdir(id), 'container.json'), 'utf8')) as ContainerRecord;
    } catch {
      return undefined;
    }
  }

  /** `durable: false` only while the create's intent stands (fs-atomic.ts): its last write is durable, unless the container is ephemeral (run --rm). */
  private writeRecord(rec: ContainerRecord, opts?: { durable: boolean }): void {
    writeJsonAtomicSync(join(this.cdir(rec.id), 'container.json'), rec, 0o600, opts); // the environment may hold secrets
  }

  /** A durable record write (fs-atomic.ts writeFileAtomic: its fsyncs on the thread pool only where they prove slow). */
  private commitRecord(rec: ContainerRecord): Promise<void> {
    return this.writeRecordAsync(rec);
  }

  /** writeRecord as a promise (fs-atomic.ts writeFileAtomic). */
  private writeRecordAsync(rec: ContainerRecord, opts?: { durable: boolean }): Promise<void> {
    return writeJsonAtomic(join(this.cdir(rec.id), 'container.json'), rec, 0o600, opts);
  }

  private allRecords(): ContainerRecord[] {
    let ids: string[];
    try { ids = readdirSync(this.dir); } catch { return []; }
    return ids.sort().map((id) => this.readRecord(id)).filter((r): r is ContainerRecord => r !== undefined);
  }

  /** id → name of every record read so far (a record's name never changes). */
  private readonly names = new Map<string, string>();

  /**
   * id → name of this process's creates under way: their names are taken from the moment the id is
   * chosen (two creates of one name side by side cannot both pass), and their directories, whose
   * records may not be written yet, are not read by the other creates of an `up` (N²/2 failing reads).
   */
  private readonly creating = new Map<string, string>();

  /**
   * The container that has `name`, if any: one readdir, and only the records not seen before are read
   * (reading them all for every create made `up` of N containers read N² records).
   */
  private nameOwner(name: string): string | undefined {
    for (const [id, n] of this.creating) if (n === name) return id;
    let ids: string[];
    try { ids = readdirSync(this.dir).sort(); } catch { return undefined; }
    const live = new Set(ids);
    for (const id of this.names.keys()) if (!live.has(id)) this.names.delete(id);
    for (const id of ids) {
      let n = this.names.get(id) ?? this.creating.get(id);
      if (n === undefined) {
        const r = this.readRecord(id);
        if (!r) continue; // being written, or left unreadable: read again next time
        this.names.set(id, (n = r.name));
      }
      if (n === name) return id;
    }
    return undefined;
  }

  /** By full id, unique id prefix, or name. */
  private find(idOrName: string): ContainerRecord | undefined {
    if (/^[0-9a-f]{64}$/.test(idOrName)) return this.readRecord(idOrName);
    const all = this.allRecords();
    const byName = all.find((r) => r.name === idOrName);
    if (byName) return byName;
    const byPrefix = /^[0-9a-f]{3,}$/.test(idOrName) ? all.filter((r) => r.id.startsWith(idOrName)) : [];
    if (byPrefix.length > 1) throw new TsstackError('USAGE', `container id prefix "${idOrName}" is ambiguous (${byPrefix.length} containers)`, { hint: 'give more characters of the id, or the name' });
    return byPrefix[0];
  }

  private get(idOrName: string): ContainerRecord {
    const r = this.find(idOrName);
    if (!r) throw new TsstackError('NOT_FOUND', `no such container: ${idOrName}`, { hint: 'see `tsstack ps -a` for the containers that exist' });
    return r;
  }

  private monitorState(rec: ContainerRecord): MonitorState | undefined {
    return this.drv.monitor.state(this.statePath(rec.id));
  }

  private monitorAlive(rec: ContainerRecord, st = this.monitorState(rec)): boolean {
    return monitorAlive(rec, st, this.drv.monitor);
  }

  private orphanPid(rec: ContainerRecord, st: MonitorState | undefined): number | undefined {
    return orphanPid(rec, st, this.drv.monitor, this.runtimeRoot);
  }

  private info(rec: ContainerRecord): ContainerInfo {
    return containerInfoOf(rec, () => this.monitorState(rec), this.drv.monitor, this.runtimeRoot);
  }

  // ------------------------------------------------------------ create

  async create(spec: ContainerCreateSpec, opts: { startSoon?: boolean } = {}): Promise<ContainerInfo> {
    if (!NAME_RE.test(spec.name)) {
      throw new TsstackError('USAGE', `invalid container name "${spec.name}"`, { hint: 'use letters, digits, "_", "." and "-", starting with a letter or digit' });
    }
    const taken = this.nameOwner(spec.name);
    if (taken) {
      throw new TsstackError('CONFLICT', `container name "${spec.name}" is already used by container ${taken.slice(0, 12)}`, { hint: 'remove that container first, or choose another name' });
    }
    // before anything is made: a missing host device fails the create cleanly
    const devices = hostDevices(spec.devices, `container ${spec.name}`);
    const id = randomBytes(32).toString('hex');
    this.creating.set(id, spec.name);
    try {
      return await this.createAs(id, spec, devices, opts);
    } finally {
      this.creating.delete(id);
    }
  }

  private async createAs(id: string, spec: ContainerCreateSpec, devices: ReturnType<typeof hostDevices>, opts: { startSoon?: boolean }): Promise<ContainerInfo> {
    const dir = this.cdir(id);
    // the intent before anything is made: a create killed at any step is undone by the next command (recovery.ts)
    beginIntent(this.root, { kind: 'container', op: 'create', name: id, project: spec.labels['tsstack.project'] });
    // 0700: the rootfs, the log and the secrets' copies are root's alone (also if the engine root were opened up).
    // The files and directories of a create are made on this thread (fs-now.ts: cheaper here than a round trip
    // through the thread pool), each awaited in order as before.
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.spreadOnce(this.dir);
    await mkdir(dir, { mode: 0o700 });
    await mkdir(join(dir, 'bundle'));
    const rec: ContainerRecord = { id, name: spec.name, created: new Date().toISOString(), spec, rootfs: '', endpoints: [], ports: [] };
    const undo: (() => Promise<void>)[] = [];
    let etc: Promise<void> | undefined;
    try {
      // recorded first, so a crash half-way leaves a container that `remove` (and `down`) can find and clean
      await this.writeRecordAsync(rec, { durable: false });
      faultPoint('container.record');
      phase(() => `create ${spec.name}: recorded`);
      rec.rootfs = await this.deps.images.mountRootfs(spec.imageId, dir);
      phase(() => `create ${spec.name}: root mounted`);
      faultPoint('container.mounted');
      undo.push(() => this.deps.images.unmountRootfs(dir));
      // not recorded yet: a removal finds the mounted rootfs at its fixed place (remove() looks, not only at the record)
      await this.setupNetwork(rec, undo);
      faultPoint('container.network');
      phase(() => `create ${spec.name}: network`);
      if (opts.startSoon && rec.endpoints.length) this.warmDns();
      // written while the bundle is worked out (awaited with its write, and before any undo below)
      etc = this.writeEtcFiles(rec);
      etc.catch(() => {});
      const user = resolveUserInRootfs(rec.rootfs, spec.user, spec.groupAdd);
      const mounts = [...(await this.resolveMounts(spec, this.placeFiles(rec, user), rec.rootfs)), ...(await this.borrowedMounts(spec))];
      rec.mounts = mounts;
      const network = spec.networkMode === 'host' ? 'host' as const
        : rec.netnsPath ? { path: rec.netnsPath }
        : spec.networkMode?.startsWith('container:') ? { path: this.peerNetns(spec.networkMode.slice('container:'.length)) }
        : 'new' as const;
      const oci = buildOciSpec({
        ...this.isolation(spec),
        ...pick(spec, OCI_AS_IS),
        rootfs: rec.rootfs,
        user,
        hostname: spec.networkMode === 'host' || spec.utsMode === 'host' ? undefined : spec.hostname,
        hostCaps: hostCaps(),
        mounts,
        etcFiles: { resolvConf: join(dir, 'resolv.conf'), hosts: join(dir, 'hosts'), hostname: join(dir, 'hostname') },
        network,
        resources: applicableResources({ ...spec.resources }, spec.labels['tsstack.project'], (m) => this.warn(m)),
        cgroupsPath: containerCgroupPath(spec.cgroupParent, id),
        init: spec.init ? nativeBinary('init') : undefined,
        devices,
        deviceRules: spec.deviceCgroupRules,
        extraMaskedPaths: hostMaskedPaths(),
        annotations: portdAnnotations(process.env, spec.labels['tsstack.project'], rec.ports),
      });
      // a `run --rm` container's bundle as its record: not fsync'd (the command removes it; recovery, after a power cut)
      await Promise.all([etc, this.drv.bundle.write(join(dir, 'bundle'), oci, { durable: !spec.ephemeral })]);
      faultPoint('container.bundle');
      phase(() => `create ${spec.name}: bundle written`);
      // a `run --rm` container is removed by the command itself: renamed into place, no fsync
      await this.writeRecordAsync(rec, { durable: !spec.ephemeral });
    } catch (e) {
      await etc?.catch(() => {}); // no write still under way in what is undone
      let undone = true;
      for (const u of undo.reverse()) await u().catch(() => { undone = false; });
      // never removed through a mount point; what could not be undone stays, with its record and the
      // intent, for the next command's recovery to remove
      if (undone && !unmountTree(dir).length) {
        rmSync(dir, { recursive: true, force: true });
        endIntent(this.root, 'container', id);
      }
      throw e;
    }
    endIntent(this.root, 'container', id);
    phase(() => `create ${spec.name}: committed`);
    return this.info(rec);
  }

  /** pid/ipc/uts namespaces, no_new_privileges and the seccomp filter of the OCI spec. */
  private isolation(spec: ContainerCreateSpec): Pick<OciSpecInput, 'pid' | 'ipc' | 'uts' | 'noNewPrivileges' | 'seccomp'> {
    // a peer that exists but is not running yet (created in the same `up`) gets its path at start (prepareRun)
    const choice = (mode: string | undefined, kind: 'pid' | 'ipc'): NamespaceChoice =>
      mode === 'host' ? 'host' : mode?.startsWith('container:') ? { path: this.peerNs(mode.slice('container:'.length), kind, true) } : 'new';
    const out: Pick<OciSpecInput, 'pid' | 'ipc' | 'uts' | 'noNewPrivileges' | 'seccomp'> = {
      pid: choice(spec.pidMode, 'pid'), ipc: choice(spec.ipcMode, 'ipc'), uts: spec.utsMode === 'host' ? 'host' : 'new',
    };
    if (spec.noNewPrivileges) out.noNewPrivileges = true;
    // as Docker: the default profile unless `unconfined`; a privileged container runs without one (a profile given by path still applies)
    const caps = () => effectiveCaps(spec.privileged, spec.capAdd, spec.capDrop, hostCaps());
    if (spec.seccomp && spec.seccomp !== 'unconfined') out.seccomp = loadSeccompProfile(spec.seccomp, caps());
    else if (!spec.seccomp && !spec.privileged) out.seccomp = defaultSeccomp(caps());
    return out;
  }

  /** `/proc/<pid>/ns/<kind>` of a running container (pid/ipc: no sandbox pins them); `pending`: '' while it is not running. */
  private peerNs(nameOrId: string, kind: 'pid' | 'ipc', pending = false): string {
    const peer = this.get(nameOrId);
    const st = this.monitorState(peer);
    if (st?.pid && st.status === 'running' && this.drv.monitor.processAlive(st.pid)) return `/proc/${st.pid}/ns/${kind}`;
    if (pending) return '';
    throw new TsstackError('RUNTIME', `${kind}: container:${nameOrId}: that container is not running`, { hint: 'start it first (depends_on)' });
  }

  private peerNetns(nameOrId: string): string {
    const peer = this.get(nameOrId);
    if (peer.netnsPath) return peer.netnsPath;
    const st = this.monitorState(peer);
    if (st?.pid && this.drv.monitor.processAlive(st.pid)) return `/proc/${st.pid}/ns/net`;
    throw new TsstackError('RUNTIME', `network_mode container:${nameOrId}: that container is not running`, { hint: 'start it first (depends_on)' });
  }

  private async setupNetwork(rec: ContainerRecord, undo: (() => Promise<void>)[]): Promise<void> {
    const spec = rec.spec;
    const net = this.deps.network;
    if (spec.networkMode === 'host' || spec.networkMode?.startsWith('container:')) return;
    if (spec.endpoints.length > 0 && !net) {
      throw new TsstackError('NETWORK', `container ${spec.name} needs networks (${spec.endpoints.map((e) => e.network).join(', ')}) but networking is not available`, { hint: 'use network_mode: none, or run with the network manager available' });
    }
    if (!net) return; // a fresh, empty network namespace made by the runtime
    const sb = await net.createSandbox(rec.id);
    faultPoint('container.sandbox');
    undo.push(() => net.removeSandbox(rec.id));
    rec.netnsPath = sb.path;
    for (const ep of spec.endpoints) {
      rec.endpoints.push(await net.connect(rec.id, ep));
      faultPoint('container.connected');
    }
    if (spec.ports.length && rec.endpoints[0]) {
      const granted = await net.publish(rec.id, rec.endpoints[0].address, spec.ports);
      undo.push(() => net.unpublish(rec.id));
      rec.ports = Array.isArray(granted) ? granted : spec.ports;
    }
  }

  /**
   * The gateways (network → address) this process last had the DNS server listen on, and the network
   * manager's count of networks made and removed before it listed them (ensureDns).
   */
  private dnsListening?: { changes: number; gateways: Map<string, string> };

  /**
   * Makes sure the DNS server runs and listens on the gateways of `rec`'s networks. Listing every network
   * to set them (~0.5 ms a start on this 2-core machine) is left out when this process already set them
   * and made or removed no network since, and each endpoint's gateway is the one set: then only the
   * server's pid is looked at. Nothing is written on that way, so what other commands set stays as it is.
   */
  private async ensureDns(rec: ContainerRecord, dns: DnsProvider, net: SandboxProvider): Promise<void> {
    const changes = await net.networkChanges?.();
    const known = this.dnsListening;
    if (known && changes !== undefined && known.changes === changes && rec.endpoints.every((ep) => known.gateways.get(ep.network) === ep.gateway)) {
      await dns.ensureRunning!();
      return;
    }
    const listen = await net.gateways!();
    await dns.ensureRunning!(listen);
    if (changes !== undefined) this.dnsListening = { changes, gateways: new Map(Object.entries(listen).map(([n, l]) => [n, typeof l === 'string' ? l : l.gateway])) };
  }

  /** The DNS server's start begun by a create whose start follows (warmDns). */
  private dnsWarm?: Promise<unknown>;

  /**
   * Starts this namespace's DNS server while the rest of the creates go on: `up` from nothing made
   * every first start wait ~40 ms for it. Once per engine; not awaited here. A failure is left to
   * the start's own ensureRunning (prepareRun) to report, which finds the server running or waits
   * for this start under the DNS lock.
   */
  private warmDns(): void {
    const dns = this.deps.dns, net = this.deps.network;
    if (this.dnsWarm || !dns?.ensureRunning || !net?.gateways) return;
    // running already (every `run` after the first, every `up` of a project with a network): the start's
    // own check is enough, and the networks' records need not be read twice
    if (dns.isRunning?.()) { this.dnsWarm = Promise.resolve(); return; }
    this.dnsWarm = net.gateways().then((g) => dns.ensureRunning!(g)).catch(() => undefined);
  }

  /**
   * DNS names follow the container's state, as Docker's: added when it starts, removed when tsstack stops
   * it (stop, a kill it does not restart from, the end of an attached run) and on remove. Between those,
   * tsstack-dns answers them only while the state file says running (`stateFile`), so a container that
   * exits by itself, or waits to restart, goes quiet and answers again after a restart.
   */
  private async dnsUp(rec: ContainerRecord): Promise<NamesLoad> {
    const dns = this.deps.dns, spec = rec.spec;
    if (!dns || !rec.endpoints.length) return { loaded: Promise.resolve(undefined) };
    const networks: Record<string, { address: string; aliases: string[] }> = {};
    for (const [i, ep] of rec.endpoints.entries()) networks[ep.network] = { address: ep.address, aliases: spec.endpoints[i]?.aliases ?? [] };
    const service = spec.serviceNames === false ? undefined : spec.labels['tsstack.service'];
    const input = { id: rec.id, name: spec.name, service, project: spec.labels['tsstack.project'], networks, stateFile: this.statePath(rec.id) };
    if (!dns.writeContainer) {
      await dns.setContainer(input);
      return { loaded: Promise.resolve(undefined) };
    }
    const { loaded } = await dns.writeContainer(input);
    return { loaded: loaded.then(() => undefined, (e: Error) => e) };
  }

  private async dnsDown(rec: ContainerRecord): Promise<void> {
    const dns = this.deps.dns;
    if (dns && rec.endpoints.length) await dns.removeContainer(rec.id);
  }

  /** hostname, hosts and resolv.conf of the container. */
  private async writeEtcFiles(rec: ContainerRecord): Promise<void> {
    const spec = rec.spec, dir = this.cdir(rec.id), dns = this.deps.dns;
    const host = (p: string) => { try { return readFileSync(p, 'utf8'); } catch { return ''; } };
    const hostsName = spec.networkMode === 'host' || spec.utsMode === 'host';
    const hostname = renderHostnameFile(hostsName ? host('/etc/hostname').trim() || 'localhost' : spec.hostname);
    const entries: { address: string; names: string[] }[] = [];
    const fqdn = spec.domainname ? `${spec.hostname}.${spec.domainname}` : undefined;
    for (const ep of rec.endpoints) entries.push({ address: ep.address, names: [...(fqdn ? [fqdn] : []), spec.hostname] });
    for (const x of spec.extraHosts ?? []) {
      const e = parseExtraHost(x, rec.endpoints[0]?.gateway);
      if (e) entries.push(e);
    }
    const hosts = spec.networkMode === 'host' ? host('/etc/hosts') : dns?.renderHosts ? dns.renderHosts(entries) : renderHostsFile(entries);
    let resolv: string;
    const gw = rec.endpoints[0]?.gateway;
    if (spec.networkMode === 'host' && !spec.dns?.length && !spec.dnsSearch?.length) {
      resolv = host('/etc/resolv.conf'); // the host's own network: its loopback resolvers are reachable
    } else if (dns && gw && !(spec.dns?.length)) {
      const search = spec.dnsSearch ?? [];
      resolv = dns.renderResolvConf ? dns.renderResolvConf(gw, search) : resolvConfFromHost('', [gw], search);
    } else {
      resolv = resolvConfFromHost(host('/etc/resolv.conf'), spec.dns ?? [], spec.dnsSearch ?? []);
    }
    if (spec.dnsOptions?.length) resolv = withResolvOptions(resolv, spec.dnsOptions);
    // three new files: each is only read once the container starts
    await Promise.all([writeFile(join(dir, 'hostname'), hostname), writeFile(join(dir, 'hosts'), hosts), writeFile(join(dir, 'resolv.conf'), resolv)]);
  }

  /**
   * `volumesFrom`: the binds and volumes (as mounted, so also what the peer borrowed itself) of other
   * containers, at the same targets, after the spec's own (which win a shared target).
   */
  private async borrowedMounts(spec: ContainerCreateSpec): Promise<OciMountInput[]> {
    const taken = new Set(spec.mounts.map((m) => m.target));
    const out: OciMountInput[] = [];
    for (const ref of spec.volumesFrom ?? []) {
      const peer = this.find(ref.container);
      if (!peer) throw new TsstackError('NOT_FOUND', `volumes_from container:${ref.container} (for ${spec.name}): no such container`, { hint: 'create that container first; see `tsstack ps -a`' });
      const peerFiles = join(this.cdir(peer.id), FILES_DIR) + '/';
      for (const m of peer.mounts ?? (await this.resolveMounts(peer.spec))) {
        if (m.type !== 'bind' || !m.source || taken.has(m.target) || m.source.startsWith(peerFiles)) continue; // not its secrets and configs
        taken.add(m.target);
        const copy: OciMountInput = { ...m };
        if (ref.readOnly) copy.readOnly = true;
        else if (ref.readOnly === false || !copy.readOnly) delete copy.readOnly;
        out.push(copy);
      }
    }
    return out;
  }

  /** Secrets and configs: this container's own copies (file-mounts.ts); their sources by index in spec.mounts. */
  private placeFiles(rec: ContainerRecord, user: ResolvedUser): Map<number, string> {
    return placeFileMounts(this.cdir(rec.id), rec.spec.mounts, user, `container ${rec.name}`);
  }

  /**
   * `files`: where the secrets and configs were placed (without: they are left out, as volumes_from does);
   * `rootfs` (the container's, mounted): where an empty anonymous volume is seeded from (seedVolume).
   */
  private async resolveMounts(spec: ContainerCreateSpec, files?: Map<number, string>, rootfs?: string): Promise<OciMountInput[]> {
    const out: OciMountInput[] = [];
    for (const [i, m] of spec.mounts.entries()) {
      if (m.type === 'tmpfs') out.push({ type: 'tmpfs', target: m.target, size: m.size, mode: m.mode, readOnly: m.readOnly, uid: m.uid, gid: m.gid, nrInodes: m.nrInodes, flags: m.flags });
      else if (m.type === 'bind' && m.file) {
        const source = files?.get(i);
        if (source) out.push({ type: 'bind', source, target: m.target, readOnly: true });
      } else if (m.type === 'bind') {
        if (!existsSync(m.source)) mkdirSync(m.source, { recursive: true }); // compose's create_host_path default
        out.push({ type: 'bind', source: m.source, target: m.target, readOnly: m.readOnly, propagation: m.propagation });
      } else {
        const v = this.deps.volumes ? await this.deps.volumes.inspect(m.source) : undefined;
        if (!v) throw new TsstackError('NOT_FOUND', `volume "${m.source}" (mounted at ${m.target} in ${spec.name}) does not exist`, { hint: 'create it first (tsstack up creates the volumes a stack declares)' });
        if (rootfs && v.labels['tsstack.anonymous'] === 'true') seedVolume(rootfs, m.target, v.mountpoint);
        out.push({ type: 'bind', source: v.mountpoint, target: m.target, readOnly: m.readOnly });
      }
    }
    return out;
  }

  // ------------------------------------------------------------ lifecycle

  async start(idOrName: string): Promise<void> {
    const rec = this.get(idOrName);
    const st = this.monitorState(rec);
    if (st && (st.status === 'running' || st.status === 'restarting') && this.monitorAlive(rec, st)) return;
    if (st && this.monitorAlive(rec, st)) await this.drv.monitor.waitForExit(this.statePath(rec.id), st.monitorPid, { timeoutMs: 10000 }); // the last run's monitor is finishing
    const dir = this.cdir(rec.id);
    const before = JSON.stringify(rec);
    const { runtime, names } = await this.prepareRun(rec);
    phase(() => `start ${rec.name}: prepared (DNS names written)`);
    await mkdir(this.monDir(rec.id), { recursive: true, mode: 0o700 }); // its control socket: root's alone
    this.spreadOnce(dirname(this.monDir(rec.id)));
    const h = rec.spec.healthcheck;
    const argv = healthArgv(h?.test);
    const start = () => this.drv.monitor.start({
      monitor: nativeBinary('monitor'),
      runtime,
      runtimeRoot: this.runtimeRoot,
      id: rec.id,
      bundle: join(dir, 'bundle'),
      statePath: this.statePath(rec.id),
      ...this.logTarget(rec),
      socketPath: this.socketPath(rec.id),
      pidPath: join(this.monDir(rec.id), 'monitor.pid'),
      tty: rec.spec.tty,
      stdinOpen: rec.spec.stdinOpen,
      restart: rec.spec.restart,
      stopSignal: rec.spec.stopSignal || 'SIGTERM',
      stopTimeoutMs: rec.spec.stopGracePeriod ?? 10000,
      health: argv && h ? { argv, intervalMs: h.interval, timeoutMs: h.timeout, retries: h.retries, startPeriodMs: h.startPeriod, startIntervalMs: h.startInterval } : undefined,
    });
    try {
      await start();
    } catch (e) {
      // runc and crun give up when the shared cgroup parent (`tsstack/`) goes with another root's last
      // container between their mkdirs (removeCgroupDirs; tsstack-runtime retries its own): once more
      if (!(e instanceof Error && CGROUP_PARENT_GONE.test(e.message))) throw e;
      await start();
    }
    if (this.runtimeName(rec) !== 'tsstack-runtime' && this.drv.runtime.placeInHybridLeaf) {
      // runc loses the v2 leaf of a hybrid host to the same race without a word (kernel-drivers.ts)
      const pid = this.monitorState(rec)?.pid;
      if (pid) this.drv.runtime.placeInHybridLeaf(containerCgroupPath(rec.spec.cgroupParent, rec.id), pid);
    }
    faultPoint('container.monitor');
    phase(() => `start ${rec.name}: monitor started`);
    // The server loaded the names while the monitor started the container; a start returns once they
    // answer, as before. A server that did not load them fails the start as it did before the monitor
    // ran: the container is stopped again.
    const notLoaded = await names.loaded;
    if (notLoaded) {
      await this.stop(rec.id, 0).catch(() => {});
      throw notLoaded;
    }
    phase(() => `start ${rec.name}: DNS names loaded`);
    // The monitor's pid is not recorded here: its state file names it (written before it answers), and a pid
    // means nothing after a reboot. The record is rewritten only when this start changed it (a remount after
    // a reboot), or to drop the pid an older tsstack recorded: a start costs no fsync of its own.
    delete rec.monitorPid;
    if (JSON.stringify(rec) !== before) {
      if (rec.spec.ephemeral) this.writeRecord(rec, { durable: false });
      else await this.commitRecord(rec);
    }
    if (rec.spec.postStart?.length) await this.runPostStart(rec);
  }

  /** post_start hooks, in order, once the container runs; the first failure throws (the container keeps running). */
  private async runPostStart(rec: ContainerRecord): Promise<void> {
    const owner = hookOwner(rec.name, rec.spec.labels['tsstack.service']);
    const running = () => { const st = this.monitorState(rec); return st?.status === 'running' && !!st.pid && this.drv.monitor.processAlive(st.pid); };
    for (const [i, hook] of (rec.spec.postStart ?? []).entries()) {
      if (!(await until(running, 5000))) {
        throw new TsstackError('RUNTIME', `${owner}: hook post_start[${i}] (${hook.argv.join(' ')}) could not run: the container is not running`, { hint: `see \`tsstack logs\` for why it exited` });
      }
      const run = await this.runHook(rec, hook);
      if (run.code !== 0 || run.timedOut) throw hookFailure(owner, 'post_start', i, hook, run);
    }
  }

  /**
   * pre_stop hooks, in order, within `budgetMs`; returns the time left of it. A failing hook is no reason to
   * keep the container: it is reported as a warning (deps.warn; naming the service and the hook) and the stop goes on.
   */
  private async runPreStop(rec: ContainerRecord, budgetMs: number): Promise<number> {
    const end = Date.now() + budgetMs;
    const owner = hookOwner(rec.name, rec.spec.labels['tsstack.service']);
    for (const [i, hook] of (rec.spec.preStop ?? []).entries()) {
      const left = end - Date.now();
      const st = this.monitorState(rec);
      if (left <= 0 || st?.status !== 'running' || !st.pid || !this.drv.monitor.processAlive(st.pid)) break;
      const run = await this.runHook(rec, hook, left).catch((e: Error) => ({ code: -1, output: e.message, timedOut: false }));
      if (run.code !== 0 || run.timedOut) this.warn(hookFailure(owner, 'pre_stop', i, hook, run).message);
    }
    return Math.max(0, end - Date.now());
  }

  private runHook(rec: ContainerRecord, hook: LifecycleHook, timeoutMs?: number): Promise<HookRun> {
    let user: string | undefined;
    if (hook.user) {
      const u = resolveUserInRootfs(rec.rootfs, hook.user);
      user = `${u.uid}:${u.gid}`;
    }
    const d = this.driver(rec);
    return this.drv.hooks.run(d.binary, d.root, hookExecArgs(rec.id, hook, user, hook.privileged ? hostCaps() ?? [] : []), timeoutMs);
  }

  /** Where the monitor writes the output: the rotated JSON-lines log, or nowhere (`/dev/null`, never rotated) for logging driver none. */
  private logTarget(rec: ContainerRecord): { logPath: string; logMaxSize?: number; logMaxFiles?: number } {
    const spec = rec.spec;
    if (spec.logDriver === 'none') return { logPath: '/dev/null', logMaxSize: 0 };
    return { logPath: this.logPath(rec.id), logMaxSize: spec.logMaxSize, logMaxFiles: spec.logMaxFiles };
  }

  /** What every run needs first: the rootfs mounted (again, after a reboot), no leftover in the runtime, the peer's netns, DNS up. Returns the runtime binary. */
  private async prepareRun(rec: ContainerRecord): Promise<{ runtime: string; names: NamesLoad }> {
    const dir = this.cdir(rec.id);
    if (!isMountpoint(rec.rootfs)) rec.rootfs = await this.deps.images.mountRootfs(rec.spec.imageId, dir);
    if (rec.spec.mounts.some((m) => m.type === 'bind' && m.file)) this.placeFiles(rec, resolveUserInRootfs(rec.rootfs, rec.spec.user, rec.spec.groupAdd)); // a changed source is seen
    const runtime = resolveRuntime(this.runtimeName(rec));
    if (this.drv.runtime.has(this.runtimeRoot, rec.id)) await this.drv.runtime.open(runtime, this.runtimeRoot).delete(rec.id, true);
    const peers: [string, string | undefined][] = [['network', rec.spec.networkMode], ['pid', rec.spec.pidMode], ['ipc', rec.spec.ipcMode]];
    if (peers.some(([, m]) => m?.startsWith('container:'))) {
      // the peer's namespaces may have changed since create (it restarted; only a network sandbox is pinned)
      const cfg = this.drv.bundle.read(join(dir, 'bundle')) as { linux: { namespaces: { type: string; path?: string }[] } };
      for (const ns of cfg.linux.namespaces) {
        const mode = peers.find(([k]) => k === ns.type)?.[1];
        if (!mode?.startsWith('container:')) continue;
        const peer = mode.slice('container:'.length);
        ns.path = ns.type === 'network' ? this.peerNetns(peer) : this.peerNs(peer, ns.type as 'pid' | 'ipc');
      }
      await this.drv.bundle.write(join(dir, 'bundle'), cfg, { durable: !rec.spec.ephemeral });
    }
    const dns = this.deps.dns, net = this.deps.network;
    // (`names.loaded` never rejects: a failure below leaves it unawaited, harmlessly)
    const names = await this.dnsUp(rec);
    if (dns?.ensureRunning && net?.gateways && rec.endpoints.length) await this.ensureDns(rec, dns, net);
    mkdirSync(this.runtimeRoot, { recursive: true });
    this.spreadOnce(this.runtimeRoot); // (the runtime's state directories, one per container: any runtime's)
    return { runtime, names };
  }

  /**
   * Runs the container in the foreground on the caller's stdio, for `run -it`/`run -i`: no monitor and
   * no log file. With `tty` in the create spec the runtime makes the pty and puts the caller's terminal
   * in raw mode (the caller's stdin must be a terminal). SIGINT/SIGTERM/SIGHUP reaching this process are
   * passed on. While it runs, inspect/top/stats see it as running. Resolves with the exit code.
   */
  async runAttached(idOrName: string): Promise<number> {
    const rec = this.get(idOrName);
    const st0 = this.monitorState(rec);
    if (st0 && this.monitorAlive(rec, st0) && (st0.status === 'running' || st0.status === 'restarting')) {
      throw new TsstackError('CONFLICT', `container ${rec.name} is already running`, { hint: 'use exec to run a command in it' });
    }
    const { runtime, names } = await this.prepareRun(rec);
    const notLoaded = await names.loaded;
    if (notLoaded) throw notLoaded;
    const statePath = this.statePath(rec.id);
    const pidFile = join(this.cdir(rec.id), 'attached.pid');
    rmSync(pidFile, { force: true });
    const base: MonitorState = { status: 'running', pid: 0, exitCode: 0, signal: 0, oomKilled: false, restartCount: 0, monitorPid: process.pid, attached: true, startedAt: new Date().toISOString() };
    const mon = this.drv.monitor;
    mon.writeState(statePath, base);
    const code = await this.drv.attach.run(
      { runtime, runtimeRoot: this.runtimeRoot, bundle: join(this.cdir(rec.id), 'bundle'), pidFile, id: rec.id },
      (pid) => mon.writeState(statePath, { ...base, pid }),
    );
    mon.writeState(statePath, { ...base, status: 'exited', pid: 0, exitCode: code, signal: code > 128 ? code - 128 : 0, finishedAt: new Date().toISOString() });
    rmSync(pidFile, { force: true });
    await this.dnsDown(rec).catch(() => {});
    if (this.drv.runtime.has(this.runtimeRoot, rec.id)) await this.drv.runtime.open(runtime, this.runtimeRoot).delete(rec.id, true).catch(() => {});
    return code;
  }

  async stop(idOrName: string, timeoutMs?: number): Promise<void> {
    const rec = this.get(idOrName);
    const st = this.monitorState(rec);
    if (st && !this.monitorAlive(rec, st) && this.orphanPid(rec, st)) return this.stopOrphan(rec, st, timeoutMs ?? rec.spec.stopGracePeriod ?? 10000);
    if (!st || !this.monitorAlive(rec, st)) return;
    let t = timeoutMs ?? rec.spec.stopGracePeriod ?? 10000;
    if (rec.spec.preStop?.length && t > 0) t = await this.runPreStop(rec, t);
    if (st.attached) return this.stopAttached(rec, t);
    // Its names go as the stop begins, so that the stops of a `down` share DNS updates (they start
    // together; they end spread out). A DNS server slow to load the change has its records file written.
    const names = this.dnsDown(rec).catch(() => {});
    await this.drv.monitor.requestStop(this.socketPath(rec.id), st.monitorPid, t);
    await this.drv.monitor.waitForExit(this.statePath(rec.id), st.monitorPid);
    await names;
  }

  /**
   * A container whose monitor died: its stop signal through the runtime, SIGKILL after the grace period,
   * then the runtime's record goes and the state says how it ended (no monitor is left to write it).
   */
  private async stopOrphan(rec: ContainerRecord, st: MonitorState, timeoutMs: number): Promise<void> {
    const d = this.driver(rec);
    const names = this.dnsDown(rec).catch(() => {});
    const gone = () => !this.orphanPid(rec, st);
    const stopSignal = rec.spec.stopSignal || 'SIGTERM';
    await d.kill(rec.id, stopSignal).catch(() => {});
    await until(gone, timeoutMs);
    const killed = !gone();
    if (killed) await d.kill(rec.id, 'SIGKILL').catch(() => {});
    await d.delete(rec.id, true).catch(() => {});
    if (!(await until(gone, 2000))) {
      // the runtime lost track of it (its state gone): every process of its cgroup, directly
      const pid = this.orphanPid(rec, st);
      const cg = pid ? cgroupPaths(pid, undefined, rec.id) : undefined;
      for (const p of cg && hasOwnCgroup(cg) ? cgroupPids(cg) : pid ? [pid] : []) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
      await until(gone, 3000);
    }
    // not our child: its exit status is unknown; the signal that ended it is what Docker would show
    const signal = killed ? 9 : (osConstants.signals[stopSignal.replace(/^(SIG)?/, 'SIG') as NodeJS.Signals] ?? 15);
    this.drv.monitor.writeState(this.statePath(rec.id), { ...st, status: 'exited', pid: 0, exitCode: 128 + signal, signal, finishedAt: new Date().toISOString(), error: 'its monitor had died; stopped through the runtime' });
    await names;
  }

  /** An attached run has no monitor: signal through the runtime, then SIGKILL after the grace period. */
  private async stopAttached(rec: ContainerRecord, timeoutMs: number): Promise<void> {
    const d = this.driver(rec);
    const exited = () => this.monitorState(rec)?.status !== 'running';
    await d.kill(rec.id, rec.spec.stopSignal || 'SIGTERM').catch(() => {});
    const end = Date.now() + timeoutMs;
    while (!exited() && Date.now() < end) await sleep(50);
    if (!exited()) await d.kill(rec.id, 'SIGKILL').catch(() => {});
    while (!exited()) await sleep(50);
  }

  async kill(idOrName: string, signal = 'SIGKILL'): Promise<void> {
    const rec = this.get(idOrName);
    const st = this.monitorState(rec);
    if (!st || !this.monitorAlive(rec, st) || st.status !== 'running') {
      throw new TsstackError('CONFLICT', `container ${rec.name} is not running`, { hint: 'start it first' });
    }
    if (st.attached) return this.driver(rec).kill(rec.id, signal);
    const reply = await this.drv.monitor.control(this.socketPath(rec.id), `kill ${signal}`);
    if (reply !== 'ok') throw new TsstackError('RUNTIME', `cannot send ${signal} to ${rec.name}: ${reply.replace(/^error /, '')}`);
    // A signal that ends the container for good (no restart policy: its monitor exits) takes its names away.
    const fatal = ['SIGKILL', 'KILL', '9'].includes(signal.toUpperCase());
    if ((rec.spec.restart ?? 'no') === 'no' && (await until(() => !this.monitorAlive(rec), fatal ? 2000 : 200))) await this.dnsDown(rec).catch(() => {});
  }

  async remove(idOrName: string, opts: { force?: boolean } = {}): Promise<void> {
    const rec = this.get(idOrName);
    const st = this.monitorState(rec);
    if (st && this.monitorAlive(rec, st)) {
      if (!opts.force) throw new TsstackError('CONFLICT', `container ${rec.name} is running`, { hint: 'stop it first, or remove with --force' });
      await this.stop(rec.id, 0);
    }
    // Each step below is idempotent; the intent makes the next command finish a removal killed half-way.
    beginIntent(this.root, { kind: 'container', op: 'remove', name: rec.id, project: rec.spec.labels['tsstack.project'] });
    const problems: string[] = [];
    const attempt = async (what: string, f: () => Promise<unknown> | unknown): Promise<string | undefined> => {
      try { await f(); return undefined; } catch (e) { return `${what}: ${(e as Error).message}`; }
    };
    const note = (p: string | undefined) => { if (p) problems.push(p); };
    faultPoint('remove.stopped');
    if (this.drv.runtime.has(this.runtimeRoot, rec.id)) note(await attempt('runtime delete', () => this.driver(rec).delete(rec.id, true)));
    const net = this.deps.network, dns = this.deps.dns;
    // network and DNS steps are idempotent: run them even when the record does not show them (a crash during create)
    if (net && rec.ports.length) note(await attempt('unpublish', () => net.unpublish(rec.id)));
    faultPoint('remove.unpublished');
    // Side by side, each idempotent: the DNS names (the server already keeps quiet about a container that
    // does not run), the sandbox (mostly a wait for the kernel to destroy the namespace), the root
    // filesystem and the cgroup (no process is left in it).
    const ownSandbox = net && !rec.spec.networkMode?.startsWith('container:') && rec.spec.networkMode !== 'host';
    // the rootfs is looked at, not only the record: a create killed after mounting has not recorded it
    const rootfsPath = join(this.cdir(rec.id), 'rootfs');
    phase(() => `remove ${rec.name}: deleted, unpublished`);
    let swept = false;
    const parts = await Promise.all([
      dns && rec.spec.endpoints.length ? attempt('dns', () => dns.removeContainer(rec.id)) : undefined,
      ownSandbox ? attempt('sandbox', () => net.removeSandbox(rec.id)) : undefined,
      attempt('rootfs', async () => {
        // the syscall; when it did not do it all, the image store checks and falls back (lazy unmount)
        if ((rec.rootfs || isMountpoint(rootfsPath)) && (!(await tryUnmount(rootfsPath)) || isMountpoint(rootfsPath))) await this.deps.images.unmountRootfs(this.cdir(rec.id));
        swept = await this.sweepFiles(rec.id);
      }),
      attempt('cgroup', () => this.drv.runtime.removeCgroup(containerCgroupPath(rec.spec.cgroupParent, rec.id))),
    ]);
    for (const p of parts) note(p);
    phase(() => `remove ${rec.name}: names, sandbox, root and cgroup gone`);
    faultPoint('remove.unmounted');
    faultPoint('remove.cgroup');
    // The record stays while anything failed, so that running the removal again finds it and retries.
    if (!problems.length) {
      note(await attempt('files', async () => {
        // a few dozen small files: removed at once, a big tree on the thread pool (remove-tree.ts)
        if (!swept) await removeTree(this.monDir(rec.id)); // (swept: gone with the rest)
        faultPoint('remove.files');
        const still = swept ? [] : unmountTree(this.cdir(rec.id)); // (swept: found with nothing mounted)
        if (still.length) throw new Error(`${still[0]} is still mounted`);
        await removeTree(this.cdir(rec.id));
      }));
    }
    if (!problems.length) endIntent(this.root, 'container', rec.id);
    if (problems.length) {
      throw new TsstackError('RUNTIME', `container ${rec.name} was not removed completely: ${problems[0]}`, { details: problems, hint: 'run the removal again; it continues where it stopped' });
    }
  }

  /**
   * A removal's files, removed while the sandbox's namespace dies (the longest wait of a removal) rather
   * than after it: once nothing is mounted below the container's directory, everything in it but the
   * record (which a removal run again needs) and the root's empty mount point, and the monitor's
   * directory. False, removing nothing, while something is still mounted there (the end says what).
   */
  private async sweepFiles(id: string): Promise<boolean> {
    const dir = this.cdir(id);
    if (unmountTree(dir).length) return false;
    await removeTree(this.monDir(id));
    let entries: Dirent[] = [];
    try { entries = readdirSync(dir, { withFileTypes: true }); } catch { /* gone already */ }
    for (const e of entries) {
      if (e.name === 'container.json' || e.name === 'rootfs') continue;
      // a file unlinked here: removeTree would first try it as a directory (an exception each)
      if (e.isDirectory()) await removeTree(join(dir, e.name));
      else try { unlinkSync(join(dir, e.name)); } catch { /* gone meanwhile */ }
    }
    return true;
  }

  async inspect(idOrName: string): Promise<ContainerInfo | undefined> {
    const rec = this.find(idOrName);
    return rec ? this.info(rec) : undefined;
  }

  /** Every container whose labels include all of `filter` (key = value). */
  async list(filter: Labels = {}): Promise<ContainerInfo[]> {
    const want = Object.entries(filter);
    return this.allRecords()
      .filter((r) => want.every(([k, v]) => r.spec.labels[k] === v))
      .map((r) => this.info(r))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The monitor's view, for callers that need more than ContainerInfo (health log, error). */
  monitorStateOf(idOrName: string): MonitorState | undefined {
    return this.monitorState(this.get(idOrName));
  }

  /** Directory of a container (tests, debugging). */
  containerDir(idOrName: string): string {
    return this.cdir(this.get(idOrName).id);
  }

  logs(idOrName: string, opts: LogOptions): AsyncIterable<LogLine> {
    const rec = this.get(idOrName);
    if (rec.spec.logDriver === 'none') return noLog(rec);
    const done = () => {
      const st = this.monitorState(rec);
      return !st || !this.monitorAlive(rec, st);
    };
    return readLogs(this.logPath(rec.id), opts, done);
  }

  output(idOrName: string, opts: Pick<LogOptions, 'follow' | 'signal' | 'finish'>): AsyncIterable<OutputChunk> {
    const rec = this.get(idOrName);
    if (rec.spec.logDriver === 'none') return (async function* () { /* nothing kept */ })();
    const done = () => {
      const st = this.monitorState(rec);
      return !st || !this.monitorAlive(rec, st);
    };
    return readOutput(this.logPath(rec.id), opts, done);
  }

  async exec(idOrName: string, argv: string[], opts: ExecOptions): Promise<number> {
    const rec = this.requireRunning(idOrName);
    return this.driver(rec).exec(rec.id, argv, this.execOpts(rec, opts));
  }

  /** Like exec, but captures the output (for health-like probes, tests, `develop.watch` sync+exec). */
  async execCapture(idOrName: string, argv: string[], opts: ExecOptions = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    const rec = this.requireRunning(idOrName);
    const o = this.execOpts(rec, opts);
    const args = ['exec', ...(o.env ?? []).flatMap((e) => ['--env', e]), ...(o.user ? ['--user', o.user] : []), ...(o.cwd ? ['--cwd', o.cwd] : []), rec.id, ...argv];
    return this.driver(rec).run(args);
  }

  private execOpts(rec: ContainerRecord, opts: ExecOptions) {
    let user: string | undefined;
    if (opts.user) {
      const u = resolveUserInRootfs(rec.rootfs, opts.user);
      user = `${u.uid}:${u.gid}`;
    }
    return { tty: opts.tty, interactive: opts.interactive, detach: opts.detach, env: opts.env, user, cwd: opts.cwd };
  }

  private requireRunning(idOrName: string): ContainerRecord {
    const rec = this.get(idOrName);
    const st = this.monitorState(rec);
    if (!st || st.status !== 'running' || !this.monitorAlive(rec, st)) {
      throw new TsstackError('CONFLICT', `container ${rec.name} is not running`, { hint: 'start it first' });
    }
    return rec;
  }

  /**
   * Resolves with the exit code once the container has exited for good. A container removed while
   * waited on ends the wait too (removal stops it): with the last exit code seen, 137 (killed) when it
   * was last seen running; NOT_FOUND when it never ran. Without this a wait that missed the
   * exit between two polls read the vanished state file forever (a leaked timer: the process never exits).
   */
  async wait(idOrName: string): Promise<number> {
    const rec = this.get(idOrName);
    let last: MonitorState | undefined;
    // Woken by the monitor's writes of its state file (inotify), not a 50 ms poll: a short run's exit is
    // seen at once. The poll stays as the safety net (a monitor killed outright writes nothing), and once
    // the state says exited only the monitor's own exit (after the runtime's delete) is awaited, briefly.
    const wake = new DirWake(this.cdir(rec.id), 'state.json');
    // Once the state says exited, the monitor still has its last steps to take (its guard's exit), which
    // can take long on a busy host; it removes its pid file last, just before it exits: that wakes the wait.
    let exitWake: DirWake | undefined;
    let quick = 0;
    try {
      for (;;) {
        wake.changed = false;
        // its pid file went: the monitor is a moment from gone (one more quick read)
        if (exitWake?.changed) { exitWake.changed = false; quick = Math.min(quick, WAIT_QUICK_READS - 1); }
        const st = this.monitorState(rec);
        if (st && (st.status === 'exited' || st.status === 'dead') && !this.monitorAlive(rec, st)) return st.exitCode;
        // the monitor is gone: what inspect says (its last state read again, containerInfoOf; 255 if it vanished)
        if (st && st.status !== 'created' && !this.monitorAlive(rec, st)) return this.info(rec).exitCode ?? 255;
        if (st) last = st;
        else if (!this.readRecord(rec.id)) {
          if (!last || last.status === 'created') throw new TsstackError('NOT_FOUND', `container ${rec.name} was removed before it ran`, { hint: 'see `tsstack ps -a` for the containers that exist' });
          return last.status === 'exited' || last.status === 'dead' ? last.exitCode : 137;
        }
        // (a monitor that stays, e.g. to restart the container later, gets the slow wait after ~100 ms)
        if (st && (st.status === 'exited' || st.status === 'dead')) {
          exitWake ??= new DirWake(this.monDir(rec.id), 'monitor.pid');
          if (quick++ < WAIT_QUICK_READS) await sleep(3);
          else await firstOf([exitWake, wake], exitWake.watching && wake.watching ? WAIT_SAFETY_POLL_MS : 50);
        } else await wake.wait(wake.watching ? WAIT_SAFETY_POLL_MS : 50);
      }
    } finally {
      wake.close();
      exitWake?.close();
    }
  }

  async top(idOrName: string): Promise<{ pid: number; cmd: string }[]> {
    const rec = this.requireRunning(idOrName);
    const pid = this.monitorState(rec)!.pid;
    const cg = cgroupPaths(pid, undefined, rec.id);
    const pids = cg && hasOwnCgroup(cg) ? cgroupPids(cg) : [pid];
    const out: { pid: number; cmd: string }[] = [];
    for (const p of pids) {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
        out.push({ pid: p, cmd: cmd || `[${readFileSync(`/proc/${p}/comm`, 'utf8').trim()}]` });
      } catch { /* exited meanwhile */ }
    }
    return out;
  }

  /** Figures over a 100 ms window (cpuPercent: 100 = one core busy). */
  async stats(idOrName: string): Promise<ContainerStats> {
    const rec = this.requireRunning(idOrName);
    const pid = this.monitorState(rec)!.pid;
    const cg = cgroupPaths(pid, undefined, rec.id);
    if (!cg) throw new TsstackError('CONFLICT', `container ${rec.name} is not running`);
    const a = readRawStats(cg, pid), t0 = process.hrtime.bigint();
    await sleep(100);
    const b = readRawStats(cg, pid), t1 = process.hrtime.bigint();
    const wall = Number(t1 - t0);
    const net = netBytes(pid);
    const s: ContainerStats = {
      cpuPercent: wall > 0 ? Math.max(0, ((b.cpuNs - a.cpuNs) / wall) * 100) : 0,
      memoryUsage: b.memoryUsage,
      pids: b.pids,
      netRx: net.rx,
      netTx: net.tx,
    };
    if (b.memoryLimit !== undefined) s.memoryLimit = b.memoryLimit;
    return s;
  }

  /**
   * `direction` 'in': host `from` → container `to`; 'out': container `from` → host `to`, as `docker cp`
   * (in-root.ts). A running container's paths are seen through its init's root (its volumes and binds
   * as it sees them); a stopped one's in its root filesystem and bind sources.
   */
  async copy(idOrName: string, from: string, to: string, direction: 'in' | 'out', opts: CopyOptions = {}): Promise<CopyReport> {
    const rec = this.get(idOrName);
    const inner = containerSide(direction === 'out' ? from : to);
    const st = this.monitorState(rec);
    const live = st?.status === 'running' && st.pid && this.monitorAlive(rec, st) ? openProcessRoot(st.pid, rec.id, recordedInitStart(this.runtimeRoot, rec.id)) : undefined;
    if (live === undefined && !isMountpoint(rec.rootfs)) throw new TsstackError('CONFLICT', `the root filesystem of ${rec.name} is not mounted`, { hint: 'start the container once, then copy' });
    const at = live !== undefined ? { root: live, path: inner } : this.locate(rec, posix.normalize('/' + inner));
    // a running container's read-only mounts refuse writes themselves (EROFS); a stopped one's bind sources must be told
    if ('readOnly' in at && at.readOnly && direction === 'in') throw new TsstackError('CONFLICT', `${rec.name}:${inner} is on a read-only mount`, { hint: 'copy to a path outside it' });
    return copyAt(at.root, rec.name, at.path, inner, direction === 'out' ? to : from, direction, opts);
  }

  /** Which host tree a container path lives in (a bind/volume source, else the rootfs) and the path inside it. */
  private locate(rec: ContainerRecord, p: string): { root: string; path: string; readOnly?: boolean } {
    const norm = '/' + p.split('/').filter(Boolean).join('/');
    let best: { target: string; source: string; readOnly?: boolean } | undefined;
    for (const m of rec.mounts ?? []) {
      if (m.type !== 'bind' || !m.source) continue;
      const t = m.target.replace(/\/+$/, '') || '/';
      if ((norm === t || norm.startsWith(t + '/')) && (!best || t.length > best.target.length)) best = { target: t, source: m.source, readOnly: m.readOnly };
    }
    if (best) return { root: best.source, path: norm.slice(best.target.length) || '/', readOnly: best.readOnly };
    return { root: rec.rootfs, path: norm };
  }
}

/**
 * An anonymous volume mounted for the first time, still empty, gets what the image has at its target
 * (owner, mode and contents), as Docker fills a new volume: an image's `VOLUME /etc/app` keeps its
 * files. Called at create, before any process of the container runs; the target is resolved inside the
 * container's root (a link in the image never leads out); `cp -a` copies links as links.
 */
function seedVolume(rootfs: string, target: string, data: string): void {
  let src: string;
  try {
    src = resolveInRoot(rootfs, target);
    if (!statSync(src).isDirectory() || readdirSync(data).length > 0) return;
  } catch {
    return; // nothing there in the image (or no volume dir yet): nothing to seed
  }
  const st = statSync(src);
  chownSync(data, st.uid, st.gid);
  chmodSync(data, st.mode & 0o7777);
  if (readdirSync(src).length) execFileSync('cp', ['-a', '--', `${src}/.`, `${data}/`], { stdio: 'ignore' });
}

/** The log of a container whose logging driver is none: reading it fails with a message saying so (as Docker's). */
async function* noLog(rec: ContainerRecord): AsyncGenerator<LogLine> {
  const service = rec.spec.labels['tsstack.service'];
  throw new TsstackError('CONFLICT', `${service ? `service ${service} (container ${rec.name})` : `container ${rec.name}`} has logging driver "none": its output is not kept`, {
    hint: 'remove logging.driver: none (or set json-file) and recreate the container to keep its output',
  });
}
