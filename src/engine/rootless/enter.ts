// How the CLI enters rootless mode.
//
// Choice: the CLI re-executes itself inside a user + mount + network namespace held by one
// long-lived process per user (the role of Podman's pause process), found again
// through `<runRoot>/pause.pid`. Why a holder, not a namespace per command:
//  - containers, their monitors, overlay mounts and the DNS server outlive the
//    command that made them (tsstack is daemonless); they must all be in one
//    user and mount namespace, so that the next `ps`, `logs` or `down` sees the
//    same mounts and may signal the same processes;
//  - a user namespace can only be entered (setns) by a single-threaded process,
//    and Node is never one: so the namespace is made and joined by small
//    programs (`unshare`, `nsenter` from util-linux, always installed), and the
//    CLI runs again inside it as the namespace's root.
// The mapping is written by `newuidmap`/`newgidmap` (setuid, from `uidmap`), the
// only way an ordinary user maps more than their own id. When the last process
// besides the holder has left the namespace (after `down`), the command that
// notices ends the holder: nothing is left behind.
//
// The copy inside gets TSSTACK_ROOT / TSSTACK_RUN_ROOT (the XDG paths, made and
// checked here with the real ids, where owners can still be told apart) and
// INSIDE_ENV (the holder's pid), so it neither enters again nor guesses paths.

import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, fstatSync, lstatSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { constants as osConstants, userInfo } from 'node:os';
import { join } from 'node:path';
import { TsstackError } from '../../util/errors.js';
import { writeFileAtomicSync } from '../../util/fs-atomic.js';
import { secureEngineDirs } from '../host-dirs.js';
import { withLockFile } from '../store/lock.js';
import { idMappings, newIdMapArgs, parseSubIds, type IdMap } from './ids.js';
import { INSIDE_ENV, rootlessPaths } from './mode.js';
import { DIAL_ENV, startDialRelay } from './dial.js';
import { ensureForwarding, forwarderPids, recordedPorts, stopForwarding } from './forward.js';
import { PORTD_ENV, ensurePortd, forwardedPorts, portdOff } from './portd.js';
import { preflight, type HostFacts } from './preflight.js';
import { deferredForOwnRun } from '../../util/extra-ca.js';

export { wantsRootless } from './mode.js';

const PAUSE_FILE = 'pause.pid';
const LOCK_FILE = 'locks/pause.lock';

function readOr(path: string, dflt = ''): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return dflt;
  }
}

function sysctl(name: string): number | undefined {
  const v = readOr(`/proc/sys/${name.replace(/\./g, '/')}`).trim();
  return v === '' ? undefined : Number(v);
}

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '/usr/bin:/bin').split(':').concat('/usr/bin', '/usr/sbin').some((d) => d && existsSync(join(d, cmd)));
}

/** The host's facts preflight() judges. */
export function hostFacts(): HostFacts {
  const u = userInfo();
  return {
    user: u.username,
    uid: u.uid,
    newuidmap: onPath('newuidmap'),
    newgidmap: onPath('newgidmap'),
    subuid: parseSubIds(readOr('/etc/subuid'), { name: u.username, id: u.uid }),
    subgid: parseSubIds(readOr('/etc/subgid'), { name: u.username, id: u.uid }), // newgidmap matches the user too
    maxUserNamespaces: sysctl('user.max_user_namespaces') ?? 1,
    unprivilegedClone: sysctl('kernel.unprivileged_userns_clone'),
    apparmorRestrict: sysctl('kernel.apparmor_restrict_unprivileged_userns'),
    kernel: readOr('/proc/sys/kernel/osrelease').trim() || undefined,
    net: { pasta: onPath('pasta'), slirp4netns: onPath('slirp4netns'), forced: process.env.TSSTACK_ROOTLESS_NETWORK || undefined },
  };
}

/** `user:[4026531837]` of a process, or undefined when it is gone or not ours. */
function userNs(pid: number | 'self'): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/user`);
  } catch {
    return undefined;
  }
}

/** Field 22 of /proc/PID/stat: with the pid, it names one process for the life of the boot (undefined once it is a zombie). */
function startTime(pid: number): string | undefined {
  const s = readOr(`/proc/${pid}/stat`);
  const i = s.lastIndexOf(')');
  const f = i < 0 ? [] : s.slice(i + 2).split(' ');
  return f[0] === 'Z' || f[0] === 'X' ? undefined : f[19];
}

/**
 * The holder recorded under runRoot, if it still runs and holds a namespace other than ours. The pid
 * alone is not trusted (pids are reused, quickly where pid_max is small): the process must have the
 * recorded start time and, in files that name it, the recorded user namespace.
 */
export function findHolder(runRoot: string): number | undefined {
  const [p, t, rec] = readOr(join(runRoot, PAUSE_FILE)).trim().split(' ');
  const pid = Number(p);
  if (!Number.isInteger(pid) || pid <= 0 || startTime(pid) !== t) return undefined;
  const ns = userNs(pid);
  return ns && ns !== userNs('self') && (!rec || rec === ns) ? pid : undefined;
}

const PINNED = ['user', 'mnt', 'net'] as const;

/**
 * The holder's user, mount and network namespaces, opened: the command enters these (nsenter through
 * /proc/self/fd), so a holder that ends between the check and the entry cannot send it anywhere else
 * or fail it half-way. Undefined when the holder is gone.
 */
function pinNamespaces(pid: number): number[] | undefined {
  const ns = userNs(pid);
  const fds: number[] = [];
  try {
    for (const n of PINNED) fds.push(openSync(`/proc/${pid}/ns/${n}`, 'r'));
    // what was opened is the namespace of the process checked (not of a new one with its pid)
    if (ns && fstatSync(fds[0]).ino === Number(/\[(\d+)\]/.exec(ns)?.[1]) && startTime(pid) !== undefined) return fds;
  } catch { /* gone */ }
  for (const fd of fds) closeSync(fd);
  return undefined;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Writes the maps of `pid`'s new namespace: newuidmap/newgidmap for subordinate ranges, else the user's own id. */
function writeMaps(pid: number, uidMaps: IdMap[], gidMaps: IdMap[]): void {
  if (uidMaps.length > 1) execFileSync('newuidmap', newIdMapArgs(pid, uidMaps), { stdio: ['ignore', 'ignore', 'pipe'] });
  else writeFileSync(`/proc/${pid}/uid_map`, `0 ${uidMaps[0].hostID} 1\n`);
  if (gidMaps.length > 1) execFileSync('newgidmap', newIdMapArgs(pid, gidMaps), { stdio: ['ignore', 'ignore', 'pipe'] });
  else {
    // an ordinary user may map their own group only once setgroups(2) is denied in the namespace
    writeFileSync(`/proc/${pid}/setgroups`, 'deny');
    writeFileSync(`/proc/${pid}/gid_map`, `0 ${gidMaps[0].hostID} 1\n`);
  }
}

/** Starts the holder: `sleep` in a new user + mount + network namespace (private propagation), mapped, recorded. */
async function startHolder(runRoot: string, facts: HostFacts, gid: number): Promise<ChildProcess> {
  // its own network namespace too: the engine moves into the sandboxes it makes and back (network/ns-enter.ts),
  // which it may only do from a network namespace its user namespace owns
  const ip = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].find((p) => existsSync(p));
  if (!ip) throw new TsstackError('HOST', 'rootless mode needs `ip` to set up its network namespace', { hint: 'as root: apt-get install iproute2' });
  const child = spawn('unshare', ['--user', '--mount', '--net', '--propagation', 'private', '--', 'sleep', 'infinity'], { detached: true, stdio: 'ignore', cwd: '/' });
  const pid = child.pid;
  child.unref();
  if (!pid) throw new TsstackError('HOST', 'cannot start `unshare` to make the rootless user namespace', { hint: 'install util-linux' });
  const ours = userNs('self');
  for (let i = 0; userNs(pid) === ours; i++) {
    if (i > 400 || child.exitCode !== null) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      throw new TsstackError('HOST', 'the kernel refused to make a user namespace for rootless mode (unshare --user failed)', {
        hint: 'check user.max_user_namespaces and kernel.unprivileged_userns_clone (sysctl), or AppArmor/SELinux rules on user namespaces',
      });
    }
    await sleep(5);
  }
  try {
    writeMaps(pid, idMappings(facts.uid, facts.subuid), idMappings(gid, facts.subgid));
  } catch (e) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    const why = (e as { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message;
    throw new TsstackError('HOST', `cannot map the rootless user namespace: ${why}`, {
      hint: 'check that /etc/subuid and /etc/subgid give you ranges no other user has, and that newuidmap/newgidmap are setuid root (package uidmap)',
    });
  }
  // loopback up, as on a host: published ports answer on the namespace's 127.0.0.1
  const lo = spawnSync('nsenter', ['-t', String(pid), '-U', '-n', '--preserve-credentials', ip, 'link', 'set', 'lo', 'up'], { encoding: 'utf8' });
  // a holder that has ended already is not pinned by the caller, which then makes another
  if (lo.status !== 0 && startTime(pid) === undefined) return child;
  if (lo.status !== 0) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    throw new TsstackError('HOST', `cannot bring up the loopback of the rootless network namespace: ${(lo.stderr ?? '').trim() || lo.error?.message}`);
  }
  writeFileAtomicSync(join(runRoot, PAUSE_FILE), `${pid} ${startTime(pid)} ${userNs(pid)}\n`, 0o600);
  return child;
}

/** Pids of processes (other than `except`) in user namespace `ns` that this user can see. */
function membersOf(ns: string, except: number[]): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    const pid = Number(e);
    if (!Number.isInteger(pid) || except.includes(pid) || pid === process.pid) continue;
    // a zombie keeps its credentials (so its user namespace) until reaped, but holds nothing
    if (userNs(pid) === ns && startTime(pid) !== undefined) out.push(pid);
  }
  return out;
}

/** True when the engine under `root` holds no container and no network: nothing needs the namespace any more. */
export function engineIdle(root: string): boolean {
  const entries = (d: string): string[] => {
    try {
      return readdirSync(join(root, d));
    } catch {
      return [];
    }
  };
  return entries('containers').filter((e) => !e.startsWith('.')).length === 0 && !entries('networks').some((e) => e.endsWith('.json') && !e.startsWith('.'));
}

/**
 * Ends the holder once the engine holds nothing (no container, no network) and the processes that
 * served them (monitors, the DNS server) have finished, which may take them a moment after `down`.
 * A namespace still in use by anything else (another command, a shell the user entered) is left.
 */
export async function reapIfIdle(runRoot: string, root: string, holder: number, graceMs = 3000): Promise<boolean> {
  const ns = userNs(holder);
  if (!ns || !engineIdle(root)) return false;
  const forwarders = forwarderPids(runRoot);
  for (let waited = 0; membersOf(ns, [holder, ...forwarders]).length; waited += 20) {
    if (waited >= graceMs) return false;
    await sleep(20);
  }
  try {
    process.kill(holder, 'SIGKILL');
  } catch { /* already gone */ }
  stopForwarding(runRoot);
  rmSync(join(runRoot, PAUSE_FILE), { force: true });
  // a signal is delivered, not waited for: the command returns once the holder and the forwarders
  // are gone from /proc (reaped by their parent), so `down` is over when it says so
  await untilGone([holder, ...forwarders], 2000);
  return true;
}

async function untilGone(pids: number[], ms: number): Promise<void> {
  for (let waited = 0; waited < ms && pids.some((p) => existsSync(`/proc/${p}`)); waited += 5) await sleep(5);
}

/** `--root DIR` / `--root=DIR` from the command line (the copy inside parses it again). */
function rootFlag(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--') break;
    if (argv[i] === '--root') return argv[i + 1];
    if (argv[i].startsWith('--root=')) return argv[i].slice(7);
  }
  return undefined;
}

export interface EnterIo {
  err(line: string): void;
}

/**
 * Runs `argv` (this CLI's arguments) again inside the user's rootless namespace and returns its exit
 * status; `command` replaces the CLI (tests run other programs inside).
 */
export async function runInNamespace(argv: string[], io: EnterIo, command?: string[]): Promise<number> {
  const facts = hostFacts();
  const gid = userInfo().gid;
  const pf = preflight(facts);
  if (pf.errors.length) {
    throw new TsstackError('HOST', `rootless mode cannot start: ${pf.errors[0]}`, { details: pf.errors.slice(1) });
  }
  const paths = rootlessPaths(process.env, { uid: facts.uid, home: userInfo().homedir }, (p) => {
    try {
      const st = lstatSync(p);
      return { uid: st.uid, mode: st.mode, isDirectory: st.isDirectory() };
    } catch {
      return undefined;
    }
  });
  const root = rootFlag(argv) ?? paths.root;
  secureEngineDirs({ root, runRoot: paths.runRoot });
  const lock = join(paths.runRoot, LOCK_FILE);
  // (the CLI again, inside: Node started without the extra CA certificates, as the launcher starts it)
  const env: NodeJS.ProcessEnv = { ...(command ? process.env : deferredForOwnRun(process.env)), TSSTACK_ROOT: root, TSSTACK_RUN_ROOT: paths.runRoot };
  let holder = 0;
  let fresh: ChildProcess | undefined;
  let exited: Promise<number> = Promise.resolve(1);
  let netWarnings: string[] = [];
  const portd = portdOff(process.env) === undefined;
  let portdLost: string | undefined;
  const argvFor = command ?? [process.execPath, ...process.execArgv, process.argv[1], ...argv];
  // registry traffic leaves from here, the host's network namespace, while the command runs (dial.ts)
  // (a run root whose path is too long for a socket goes without: registries are then reached through pasta)
  const relay = await startDialRelay(join(paths.runRoot, `dial-${process.pid}.sock`)).catch(() => undefined);
  if (relay) env[DIAL_ENV] = relay.path;
  const child = await withLockFile(lock, { command: 'tsstack (rootless namespace)' }, async () => {
    let fds: number[] | undefined;
    for (let attempt = 0; !fds; attempt++) {
      if (attempt === 2) {
        throw new TsstackError('HOST', `the rootless namespace holder (pid ${holder}) ended as soon as it was started`, {
          hint: `something on this host ends the user's processes (a process manager, an OOM killer, a stale pid killed again); see ${join(paths.runRoot, PAUSE_FILE)}`,
        });
      }
      holder = findHolder(paths.runRoot) ?? 0;
      if (!holder) {
        fresh = await startHolder(paths.runRoot, facts, gid);
        holder = fresh.pid!;
      }
      fds = pinNamespaces(holder);
    }
    // published TCP ports served from the host by portd, started before any container can need it
    if (portd) {
      const d = ensurePortd(paths.runRoot);
      env[PORTD_ENV] = d.sock;
      if (d.lost && !fresh) portdLost = 'tsstack-portd had stopped: containers started before it stopped cannot bind or connect IP sockets; recreate them (tsstack up --force-recreate)';
    }
    // the containers' way out (and the published ports kept when a holder is made again)
    if (fresh) netWarnings = await ensureForwarding(paths.runRoot, holder, forwardedPorts(recordedPorts(root), portd), pf.network ?? 'pasta');
    env[INSIDE_ENV] = String(holder);
    // --preserve-credentials: the user's own id is the namespace's 0 already, and setgroups(2) may be denied there
    // the pinned namespaces are fds 3, 4, 5 of nsenter; the shell closes them before the command runs (no container may inherit them)
    const nsArgs = PINNED.map((n, i) => `--${n === 'mnt' ? 'mount' : n}=/proc/self/fd/${3 + i}`);
    const c = spawn('nsenter', [...nsArgs, '--preserve-credentials', `--wd=${process.cwd()}`, '--', 'sh', '-c', 'exec 3<&- 4<&- 5<&- "$@"', 'sh', ...argvFor], { stdio: ['inherit', 'inherit', 'inherit', ...fds], env });
    for (const fd of fds) closeSync(fd);
    exited = new Promise<number>((res) => c.on('exit', (code, sig) => res(code ?? 128 + (sig ? osConstants.signals[sig] : 0))));
    // inside before the lock goes, so a command reaping the holder now sees this one
    const ns = userNs(holder);
    for (let i = 0; c.pid && c.exitCode === null && userNs(c.pid) !== ns && i < 2000; i++) await sleep(2);
    return c;
  }).catch(async (e) => {
    await relay?.close();
    throw e;
  });
  // warnings once per namespace made (i.e. after a `down`, the next `up` says it again)
  if (fresh) for (const w of [...paths.warnings, ...pf.warnings, ...netWarnings]) io.err(`warning: ${w}`);
  if (portdLost) io.err(`warning: ${portdLost}`);
  const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
  const signals = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => [s, forward(s)] as const);
  for (const [s, f] of signals) process.on(s, f);
  const code = await exited.finally(() => relay?.close());
  for (const [s, f] of signals) process.removeListener(s, f);
  const reaped = await withLockFile(lock, { command: 'tsstack (rootless namespace)' }, async () => {
    if (await reapIfIdle(paths.runRoot, root, holder)) return true;
    // the command may have published or withdrawn ports: the forwarder carries exactly the recorded ones
    for (const w of await ensureForwarding(paths.runRoot, holder, forwardedPorts(recordedPorts(root), portd), pf.network ?? 'pasta')) io.err(`warning: ${w}`);
    return false;
  });
  // a holder this command started is its child until it exits: wait, so no zombie outlives the command
  if (reaped && fresh && fresh.exitCode === null && fresh.signalCode === null) {
    fresh.ref();
    await new Promise((r) => fresh!.once('exit', r));
  }
  return code;
}
