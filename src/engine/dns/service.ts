// DnsService: the engine's side of tsstack-dns. Keeps the DNS state under
// `<runRoot>/dns/net-<ino>/` and starts/stops the one server process for that run
// root and network namespace.
//
//   state.json  containers and networks (source of truth, JSON)
//   records     rendered from the state for the server (renderRecords)
//   pid         the server's pid (flock'ed by it while it runs)
//   loaded      "serial N" + "unbound NET ADDR" lines after each reload
//   dns.log     the server's stderr
//   nft         "<changes> <pid>", rewritten by the server after every change of the namespace's
//               nftables ruleset (the converged-`up` check reads it instead of listing the ruleset)
//   locks/      flock serialising CLIs (store/lock.ts)
//
// Per namespace (<ino>: the inode of /proc/self/ns/net, paths.ts): the server answers
// on the gateways of the namespace it runs in, and the run root does not depend on the
// namespace. One root used from two namespaces (a demo in an isolated one, then a stack
// on the host) has a server, and names, in each; a server found running elsewhere is
// not ours.
//
// Lifecycle: ensureRunning() when a networked container starts; stopIfIdle() after
// networks are removed; close() (the engine's shutdown hook) stops it when neither a
// container nor a network is left (a network alone keeps it: its next container needs it).
//
// Every change is a read-modify-write of state.json under the lock, then the
// records file is replaced atomically; the server reloads it by itself (inotify).
// When the server runs, a change returns only once the server has loaded it, so a
// container started right after setContainer() already resolves its peers.
//
// Between setContainer and removeContainer, a container given with `stateFile` (its
// monitor's state.json) is answered only while that file says running: the server
// watches it itself (native/dns/live.h), so a container that exits on its own or waits
// to restart goes quiet with no tsstack process left to tell anyone.

import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readlinkSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { DirWake } from '../../util/dir-wake.js';
import { exitCode, spawnDaemon } from '../runtime/light-spawn.js';
import { TsstackError } from '../../util/errors.js';
import { writeFileAtomic, writeJsonAtomic } from '../../util/fs-atomic.js';
import { withLock } from '../store/lock.js';
import { nativeBinary } from '../native-paths.js';
import { dnsServerDir } from './paths.js';
import { parseResolvConf, renderHostname, renderHosts, renderResolvConf, type HostsEntry } from './etc-files.js';
import { isProcess, readPid, rssKb, waitFor } from './process.js';
import { emptyState, parseUpstream, renderRecords, type DnsContainer, type DnsNetwork, type DnsState, type Upstream } from './records.js';
import { sortKeysDeep } from '../../util/canonical-json.js';

export interface DnsServiceOptions {
  runRoot: string;
  /** tsstack-dns binary (default: native/bin/tsstack-dns of this package, or $TSSTACK_DNS_BIN). */
  binary?: string;
  /** Resolvers for non-local names (`addr`, `addr:port`, `[v6]:port`); default: the host's resolv.conf. */
  upstreams?: string[];
  /** Search domains stripped before local lookups; default: the host resolv.conf's `search`. */
  search?: string[];
  /** Host resolv.conf to read search domains and (in the server) resolvers from. */
  hostResolvConf?: string;
  /** Port to answer on (default 53; tests and benches may pick another). */
  port?: number;
}

export interface DnsStatus {
  running: boolean;
  pid?: number;
  rssKb?: number;
  /** Serial written / serial the server last loaded. */
  serial: number;
  loadedSerial?: number;
  networks: Record<string, DnsNetwork>;
  containers: number;
  /** Networks whose gateway the server could not bind (e.g. port 53 taken there). */
  unbound: { network: string; address: string }[];
  recordsPath: string;
}

const BINARY_NAME = 'tsstack-dns';
const START_TIMEOUT_MS = 3000;
const LOAD_TIMEOUT_MS = 2000;
/** With the status file watched, how often it is looked at anyway (a server killed outright writes nothing). */
const LOAD_SAFETY_POLL_MS = 50;
const STOP_TIMEOUT_MS = 3000;

/** $TSSTACK_DNS_BIN, else native/bin/tsstack-dns of this package (native-paths.ts; throws HOST when unbuilt). */
export function defaultDnsBinary(): string {
  return process.env.TSSTACK_DNS_BIN ?? nativeBinary('dns');
}

export class DnsService {
  readonly dir: string;
  readonly recordsPath: string;
  readonly statePath: string;
  readonly pidPath: string;
  readonly loadedPath: string;
  readonly logPath: string;
  private binaryPath?: string;
  private readonly port: number;
  private readonly upstreams: Upstream[];
  private readonly search?: string[];
  private readonly hostResolvConf: string;
  /** Changes in this process run one batch at a time; `open` is the batch not yet started. */
  private chain: Promise<unknown> = Promise.resolve();
  private open?: { mutations: ((s: DnsState) => void | false)[]; done: Promise<number | undefined>; running?: boolean };

  /** Where this namespace's server keeps its pid, status and log (= dir). */
  readonly serverDir: string;

  constructor(opts: DnsServiceOptions) {
    this.dir = this.serverDir = dnsServerDir(opts.runRoot);
    this.recordsPath = join(this.dir, 'records');
    this.statePath = join(this.dir, 'state.json');
    this.pidPath = join(this.serverDir, 'pid');
    this.loadedPath = join(this.serverDir, 'loaded');
    this.logPath = join(this.serverDir, 'dns.log');
    this.binaryPath = opts.binary;
    this.port = opts.port ?? 53;
    this.hostResolvConf = opts.hostResolvConf ?? '/etc/resolv.conf';
    this.search = opts.search;
    this.upstreams = (opts.upstreams ?? []).map((u) => {
      const p = parseUpstream(u);
      if (!p) throw new TsstackError('USAGE', `invalid DNS upstream "${u}"`, { hint: 'give an IP address, optionally with a port: 192.0.2.53, 192.0.2.53:5353 or [2001:db8::53]:53' });
      return p;
    });
  }

  /** The server binary, located on first use (so an engine without DNS needs no build of it). */
  get binary(): string {
    return (this.binaryPath ??= defaultDnsBinary());
  }

  /** Adds or replaces a container's names. With `stateFile` (its monitor's state.json) the server
   *  answers them only while that file says the container is running. */
  async setContainer(c: DnsContainer): Promise<void> {
    await (await this.writeContainer(c)).loaded;
  }

  async writeContainer(c: DnsContainer): Promise<{ loaded: Promise<void> }> {
    const copy: DnsContainer = { id: c.id, name: c.name, networks: {} };
    if (c.service) copy.service = c.service;
    if (c.project) copy.project = c.project;
    if (c.stateFile) copy.stateFile = resolve(c.stateFile);
    for (const net of Object.keys(c.networks).sort()) {
      const ep = c.networks[net];
      copy.networks[net] = { address: ep.address, aliases: [...(ep.aliases ?? [])] };
      if (ep.ipv6Address) copy.networks[net].ipv6Address = ep.ipv6Address;
    }
    return this.written((s) => { s.containers[c.id] = copy; });
  }

  async removeContainer(id: string): Promise<void> {
    // already gone (a stop took the names, then remove asks again): nothing to write or wait for
    await this.change((s) => (s.containers[id] ? void delete s.containers[id] : false));
  }

  /** Replaces the set of networks: name → gateway address (optionally `/prefix`, which
   *  lets the server answer reverse lookups inside the subnet with NXDOMAIN itself), or
   *  `{ gateway, internal: true }` for a network whose names must not be forwarded. */
  async setNetworks(gateways: Record<string, DnsNetwork>): Promise<void> {
    // every start sets them (ensureRunning): the same networks again write nothing (else two record
    // files and a reload of the server per container, over an `up`) — unless the server could not
    // bind a gateway (a write makes it reload and try again: the port may be free now) or the records
    // would read otherwise (this service's upstreams, the host's search domains)
    const retry = this.readLoaded().unbound.length > 0;
    const key = JSON.stringify(sortKeysDeep(gateways));
    // (within one command) the networks this service found or made so, on the records file it last saw
    // or wrote: nothing to compare again (every start of an `up` sets the same ones)
    if (!retry && this.settled?.key === key && this.settled.records === this.recordsStamp()) return;
    const same = (s: DnsState) => !retry && JSON.stringify(sortKeysDeep(s.networks)) === key && this.renderRecords(s) === this.writtenRecords();
    await this.change((s) => (same(s) ? false : void (s.networks = { ...gateways })));
    this.settled = { key, records: this.recordsStamp() };
  }

  /** What setNetworks last found in place: the networks (canonical JSON) and the records file's stamp then. */
  private settled?: { key: string; records: string | undefined };

  /** The records file's identity: a write by anyone (by rename: a new inode) changes it. */
  private recordsStamp(): string | undefined {
    return fileStamp(this.recordsPath);
  }

  /** Starts the server unless it runs. With `listen`, first sets the networks to it.
   *  Throws CONFLICT naming the network when its gateway's port is taken by another server. */
  async ensureRunning(listen?: Record<string, DnsNetwork>): Promise<{ pid: number; started: boolean }> {
    if (listen) await this.setNetworks(listen);
    // running: no lock needed to know it (the lock keeps two commands from starting it together)
    const up = this.runningPid();
    const res = up ? { pid: up, started: false } : await this.locked(async () => {
      const pid = this.runningPid();
      if (pid) return { pid, started: false };
      await this.writeFiles(this.readState());
      return { pid: await this.start(), started: true };
    });
    const unbound = this.readLoaded().unbound;
    if (unbound.length) {
      const list = unbound.map((u) => `network "${u.network}" (${u.address}:${this.port})`).join(', ');
      throw new TsstackError('CONFLICT', `the DNS server cannot listen for ${list}: the port is taken by another process`, {
        hint: 'stop the other DNS server on that address (e.g. a dnsmasq listening on all addresses) or make it bind to specific addresses',
        details: this.logTail(),
      });
    }
    return res;
  }

  /** Stops the server when no network is left. Returns whether it is (now) stopped. */
  async stopIfIdle(): Promise<boolean> {
    return this.locked(async () => {
      if (Object.keys(this.readState().networks).length > 0) return !this.runningPid();
      await this.stopLocked();
      return true;
    });
  }

  /** Stops the server regardless of the networks. */
  async stop(): Promise<void> {
    await this.locked(() => this.stopLocked());
  }

  /** Whether this namespace's server runs (its pid alive and really tsstack-dns on our records): a cheap check. */
  isRunning(): boolean {
    return this.runningPid() !== undefined;
  }

  async status(): Promise<DnsStatus> {
    const s = this.readState();
    const pid = this.runningPid();
    const loaded = this.readLoaded();
    const st: DnsStatus = {
      running: pid !== undefined,
      serial: s.serial,
      networks: { ...s.networks },
      containers: Object.keys(s.containers).length,
      unbound: pid ? loaded.unbound : [],
      recordsPath: this.recordsPath,
    };
    if (pid) {
      st.pid = pid;
      st.rssKb = rssKb(pid);
      st.loadedSerial = loaded.serial;
    }
    return st;
  }

  /**
   * Engine shutdown hook. With no container left to answer for, the server keeps running while
   * networks remain (the next container on them needs it at once: `run --rm` in a loop would
   * otherwise start and stop it every time), and stops when none is left. `networks` are the
   * ones that exist now (nothing else tells the service that `down` removed the last network);
   * none given means none.
   */
  async close(networks: Record<string, DnsNetwork> = {}): Promise<void> {
    if (!existsSync(this.statePath)) return;
    await this.locked(async () => {
      const s = this.readState();
      if (Object.keys(s.containers).length > 0) return;
      const keep = networks;
      if (JSON.stringify(sortKeysDeep(keep)) !== JSON.stringify(sortKeysDeep(s.networks))) {
        s.networks = { ...keep };
        s.serial += 1;
        await this.writeFiles(s);
      }
      if (Object.keys(keep).length === 0) await this.stopLocked();
    });
  }

  // The DnsProvider's optional renderers (runtime/deps.ts), over the pure helpers.
  renderResolvConf(nameservers: string | string[], search: string[] = [], options: string[] = []): string {
    return renderResolvConf(nameservers, search, options);
  }

  renderHosts(entries: HostsEntry[]): string {
    return renderHosts(entries);
  }

  renderHostname(hostname: string): string {
    return renderHostname(hostname);
  }

  /** The records file as it would be written now (for `tsstack inspect`-style output and tests). */
  renderRecords(state: DnsState = this.readState()): string {
    return renderRecords(state, { search: this.searchDomains(), upstreams: this.upstreams });
  }

  // ------------------------------------------------------------ internals

  /** The file lock, other commands' and ours; this process's own callers queue in `held` first. */
  private locked<T>(f: () => Promise<T>): Promise<T> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 }); // records, pid, status, log: root's
    // two callers of one process take the file lock on two descriptors, which conflict: the second
    // would poll (10 ms at a time; a `down`'s close behind its last removal's change waited so)
    const run = this.held.then(() => withLock(this.dir, 'dns', { pollMs: 10, timeoutMs: 30_000, command: 'tsstack dns' }, f));
    this.held = run.catch(() => {});
    return run;
  }

  private held: Promise<unknown> = Promise.resolve();

  /**
   * Applies `mutate` (false = it changed nothing) and returns once the running server has loaded the
   * result. Changes made while another is being written are written together (group commit): one
   * lock, one records file, one reload for a `down` removing many containers at once.
   */
  private async change(mutate: (s: DnsState) => void | false): Promise<void> {
    await (await this.written(mutate)).loaded;
  }

  /** A change written (in its batch, under the lock); `loaded` once the server has it, when it runs. */
  private async written(mutate: (s: DnsState) => void | false): Promise<{ loaded: Promise<void> }> {
    let batch = this.open;
    if (!batch) {
      const b: { mutations: ((s: DnsState) => void | false)[]; done: Promise<number | undefined>; running?: boolean } = { mutations: [], done: Promise.resolve(undefined) };
      b.done = this.chain.then(() => this.locked(async () => {
        if (this.open === b) this.open = undefined; // later changes form the next batch
        const s = this.readState();
        let changed = false;
        try {
          for (const m of b.mutations) if (m(s) !== false) changed = true;
        } catch (e) {
          this.known = undefined; // changed in part, and not written
          throw e;
        }
        if (!changed) return undefined;
        s.serial += 1;
        await this.writeFiles(s);
        return s.serial;
      }));
      // a batch that failed before it ran (the lock not had) must not take later changes with it
      this.chain = b.done.catch(() => { if (this.open === b) this.open = undefined; });
      batch = this.open = b;
    }
    batch.mutations.push(mutate);
    const serial = await batch.done;
    // whether the server runs, looked at once for the batch (its changes resume one after another, at once)
    const b = batch;
    b.running ??= serial !== undefined && this.runningPid() !== undefined;
    return { loaded: b.running ? this.waitLoadedOnce(serial!) : Promise.resolve() };
  }

  /** Waits for the server's load of `serial` or a later one, pending in this process. */
  private readonly loads = new Map<number, Promise<void>>();

  /**
   * waitLoaded, shared: the changes of one batch (the starts of an `up`) wait on one poll of the status
   * file, not one each; a wait for a later serial covers an earlier one (the server loads in order).
   */
  private waitLoadedOnce(serial: number): Promise<void> {
    for (const [s, p] of this.loads) if (s >= serial) return p;
    const p = this.waitLoaded(serial).finally(() => this.loads.delete(serial));
    this.loads.set(serial, p);
    return p;
  }

  /**
   * The state as this process last read or wrote it, with the file's stamp then. Each batch of DNS
   * changes (the starts of an `up`, a few at a time) read and parsed the whole file, every container's
   * names, again: over an `up` of 200 that grew as the square of the containers (~120 ms of its
   * JavaScript thread). Now the file is read again only when its stamp says another command wrote it.
   * The object is the one the batches change, so a change that does not reach the file forgets it.
   */
  private known?: { stamp: string; state: DnsState };

  private stateStamp(): string | undefined {
    return fileStamp(this.statePath);
  }

  private readState(): DnsState {
    // (stamped before the read: a write in between leaves a newer state under an older stamp, read again next time)
    const stamp = this.stateStamp();
    if (stamp !== undefined && this.known?.stamp === stamp) return this.known.state;
    this.known = undefined;
    const s = this.readStateFile();
    if (stamp !== undefined) this.known = { stamp, state: s };
    return s;
  }

  private readStateFile(): DnsState {
    try {
      const text = readFileSync(this.statePath, 'utf8');
      if (text === '') return emptyState(); // written without fsync and cut by a power loss: nothing it named runs any more
      const s = JSON.parse(text) as DnsState;
      if (s.version === 1) return s;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new TsstackError('INTERNAL', `${this.statePath}: unreadable DNS state: ${(e as Error).message}`, { hint: 'remove the file and run `tsstack up` again to rewrite it', cause: e });
      }
      // an engine from before the per-namespace layout kept it in <runRoot>/dns/: its containers keep their names
      const legacy = this.legacy();
      if (legacy) {
        try {
          const old = JSON.parse(readFileSync(join(legacy.dir, 'state.json'), 'utf8')) as DnsState;
          if (old.version === 1) return old;
        } catch { /* none, or unreadable: start empty */ }
      }
    }
    return emptyState();
  }

  /**
   * The server of the layout before DNS state was per namespace (`<runRoot>/dns/pid`), when it runs in
   * this namespace: it holds port 53 on our gateways, so it gives way when ours starts (start()).
   */
  private legacy(): { dir: string; pid?: number } | undefined {
    const dir = dirname(this.dir);
    if (!existsSync(join(dir, 'state.json'))) return undefined;
    const pid = readPid(join(dir, 'pid'));
    let here = false;
    try {
      here = pid !== undefined && isProcess(pid, [BINARY_NAME, join(dir, 'records')]) && readlinkSync(`/proc/${pid}/ns/net`) === readlinkSync('/proc/self/ns/net');
    } catch { /* not ours to see */ }
    return { dir, pid: here ? pid : undefined };
  }

  /** Both files (fs-atomic.ts writeFileAtomic), in this order, under the lock. */
  private async writeFiles(s: DnsState): Promise<void> {
    // root's alone (names, addresses and state file paths of every container); per-boot state under
    // the run root, so not fsync'd (fs-atomic.ts): after a power cut no container it names runs
    // unsorted: only this service reads it back, and sorting the whole state per write costs a pass
    // over every container of the namespace per start
    this.known = undefined;
    await writeJsonAtomic(this.statePath, s, 0o600, { durable: false });
    const stamp = this.stateStamp();
    if (stamp !== undefined) this.known = { stamp, state: s };
    await writeFileAtomic(this.recordsPath, this.renderRecords(s), 0o600, { durable: false });
    // rendered here from these networks: still what setNetworks found in place when they are the same
    if (this.settled && JSON.stringify(sortKeysDeep(s.networks)) === this.settled.key) this.settled.records = this.recordsStamp();
  }

  private writtenRecords(): string | undefined {
    try {
      return readFileSync(this.recordsPath, 'utf8');
    } catch {
      return undefined;
    }
  }

  private searchDomains(): string[] {
    if (this.search) return this.search;
    try {
      return parseResolvConf(readFileSync(this.hostResolvConf, 'utf8')).search;
    } catch {
      return [];
    }
  }

  private runningPid(): number | undefined {
    const pid = readPid(this.pidPath);
    return pid !== undefined && isProcess(pid, [BINARY_NAME, this.recordsPath]) ? pid : undefined;
  }

  private readLoaded(): { serial?: number; unbound: { network: string; address: string }[] } {
    const out: { serial?: number; unbound: { network: string; address: string }[] } = { unbound: [] };
    let text = '';
    try { text = readFileSync(this.loadedPath, 'utf8'); } catch { return out; }
    for (const line of text.split('\n')) {
      const f = line.split(' ');
      if (f[0] === 'serial') out.serial = Number(f[1]);
      else if (f[0] === 'unbound' && f.length === 3) out.unbound.push({ network: f[1], address: f[2] });
    }
    return out;
  }

  private async waitLoaded(serial: number): Promise<void> {
    const done = () => (this.readLoaded().serial ?? -1) >= serial || !this.runningPid();
    // woken by the server's rename of its status file (inotify on its directory) instead of a look every
    // 2 ms: a load takes well under a millisecond, and the look after it came a millisecond late on average
    const wake = new DirWake(this.serverDir, basename(this.loadedPath));
    const end = Date.now() + LOAD_TIMEOUT_MS;
    let ok = false;
    try {
      for (;;) {
        wake.changed = false;
        if ((ok = done()) || Date.now() >= end) break;
        await wake.wait(wake.watching ? LOAD_SAFETY_POLL_MS : 2);
      }
    } finally {
      wake.close();
    }
    if (!ok) {
      throw new TsstackError('NETWORK', `the DNS server did not load records serial ${serial} within ${LOAD_TIMEOUT_MS} ms`, {
        hint: `see ${this.logPath}; \`kill $(cat ${this.pidPath})\` restarts it at the next \`tsstack up\``,
        details: this.logTail(),
      });
    }
  }

  private logTail(): string[] {
    try {
      return readFileSync(this.logPath, 'utf8').trim().split('\n').slice(-5);
    } catch {
      return [];
    }
  }

  private async start(): Promise<number> {
    if (!existsSync(this.binary)) {
      throw new TsstackError('HOST', `the DNS server binary is missing: ${this.binary}`, { hint: 'build it with `npm run build:native`' });
    }
    mkdirSync(this.serverDir, { recursive: true });
    const legacy = this.legacy()?.pid;
    if (legacy) {
      try { process.kill(legacy, 'SIGTERM'); } catch { /* gone */ }
      await waitFor(() => !isProcess(legacy, [BINARY_NAME]), STOP_TIMEOUT_MS);
    }
    try { unlinkSync(this.loadedPath); } catch { /* first start */ }
    const log = openSync(this.logPath, 'a', 0o600);
    const args = ['--records', this.recordsPath, '--pidfile', this.pidPath, '--status', this.loadedPath, '--resolv-conf', this.hostResolvConf, '--port', String(this.port), '--nft-events', join(this.dir, 'nft')];
    let exited: number | undefined;
    // Detached in its own session so it outlives the CLI that starts it.
    let pid: number | undefined;
    try {
      pid = spawnDaemon(this.binary, args, log);
    } catch {
      exited = -1;
    } finally {
      closeSync(log);
    }
    const up = await waitFor(() => (exited ??= pid === undefined ? -1 : exitCode(pid)) !== undefined || readPid(this.pidPath) === pid, START_TIMEOUT_MS);
    if (up && exited === undefined && pid !== undefined) return pid;
    if (exited === 3) {
      // Another server holds the pid file (a race we lost outside the lock, or a stale run root).
      const other = this.runningPid();
      if (other) return other;
    }
    if (!up && pid !== undefined) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
    throw new TsstackError('NETWORK', `the DNS server did not start (${exited === undefined ? 'no pid file after 3 s' : `exit status ${exited}`})`, {
      hint: `see ${this.logPath}`,
      details: this.logTail(),
    });
  }

  private async stopLocked(): Promise<void> {
    const pid = this.runningPid();
    if (!pid) return;
    try { process.kill(pid, 'SIGTERM'); } catch { return; }
    if (!(await waitFor(() => !isProcess(pid, [BINARY_NAME]), STOP_TIMEOUT_MS))) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      await waitFor(() => !isProcess(pid, [BINARY_NAME]), 1000);
      try { unlinkSync(this.pidPath); } catch { /* removed */ }
    }
  }
}

/** A file's identity for "changed since": inode (a rename puts a new one), mtime in ns and size; undefined when absent. */
function fileStamp(path: string): string | undefined {
  const st = statSync(path, { throwIfNoEntry: false, bigint: true });
  return st ? `${st.ino}:${st.mtimeNs}:${st.size}` : undefined;
}
