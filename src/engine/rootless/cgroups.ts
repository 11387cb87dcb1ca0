// Resource limits in rootless mode. The kernel lets an ordinary user's processes
// make cgroups and write limits only in a cgroup v2 subtree delegated to them (its
// directory and its cgroup.procs, cgroup.subtree_control, cgroup.threads chowned
// to the user, as systemd's Delegate=yes does for user@UID.service). The delegated
// subtree is found from this process's own v2 cgroup (`0::` of /proc/self/cgroup),
// upwards while the user owns it; containers get their own cgroups below its top,
// `<top>/tsstack/<id>`, and the runtime writes the limits there as it does on a v2
// host. The kernel's rules decide what can be used:
//  - moving a process into a cgroup needs write access to the cgroup.procs of the
//    common ancestor of where it is and where it goes: the containers' cgroups go
//    below the delegated directory that holds tsstack itself, never elsewhere (a
//    user@UID.service that the command does not run in cannot be used: its common
//    ancestor with the command's cgroup belongs to root);
//  - a controller exists in a child only when the parent enables it in
//    cgroup.subtree_control, which the parent must have (cgroup.controllers: what
//    was delegated), and which a non-root cgroup that holds processes may not do
//    ("no internal processes").
// Limits whose controller cannot be had are dropped from the container's config,
// and every `up` says once per project which and why: a stack that asks for 64m of
// memory must never look as if it got it.

import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { insideRootless } from './mode.js';

type Resources = Record<string, unknown>;

/** The keys of ContainerCreateSpec.resources that are cgroup limits (shm size and the OOM score are not), with their v2 controller. */
export const LIMIT_CONTROLLERS = {
  memory: 'memory', memorySwap: 'memory', memoryReservation: 'memory',
  cpus: 'cpu', cpuShares: 'cpu', cpuQuota: 'cpu', cpuPeriod: 'cpu',
  cpuset: 'cpuset',
  pids: 'pids',
} as const;
export const LIMIT_KEYS = Object.keys(LIMIT_CONTROLLERS) as (keyof typeof LIMIT_CONTROLLERS)[];

/** One cgroup v2 directory on the way from this process's cgroup up to (not including) the hierarchy's root. */
export interface CgroupDir {
  /** Relative to the cgroup2 mount, e.g. `/user.slice/user-1000.slice/user@1000.service` */
  path: string;
  /** The directory, its cgroup.procs and its cgroup.subtree_control belong to the user (and are writable by them). */
  delegated: boolean;
  /** cgroup.controllers: what its parent lets it use */
  controllers: string[];
  /** cgroup.subtree_control: what it passes on to its children */
  subtreeControl: string[];
  /** It holds processes of its own (cgroup.procs is not empty). */
  hasProcs: boolean;
}

export interface CgroupFacts {
  /** Where the cgroup2 hierarchy is mounted (/sys/fs/cgroup on a v2 host, /sys/fs/cgroup/unified on a hybrid one); undefined without one. */
  mount?: string;
  /** This process's own cgroup (the `0::` line), from it upwards, without the root. */
  chain: CgroupDir[];
}

export interface Delegation {
  /** The delegated directory the containers' cgroups go below (relative to the mount); undefined when there is none. */
  base?: string;
  /** Controllers a container's cgroup below base gets. */
  usable: Set<string>;
  /** Why a controller cannot be had (per controller); `*` when nothing is delegated. */
  missing: Map<string, string>;
}

const WANTED = ['memory', 'cpu', 'cpuset', 'pids'];

/** Which subtree is delegated to the user and which controllers containers get below it. Pure. */
export function delegation(f: CgroupFacts): Delegation {
  const none = (why: string): Delegation => ({ usable: new Set(), missing: new Map([['*', why]]) });
  if (!f.mount) return none('this host has no cgroup v2 hierarchy, and cgroup v1 is never delegated to users');
  const own = f.chain[0];
  if (!own) return none('tsstack runs in the root of the cgroup v2 hierarchy, which is never delegated');
  if (!own.delegated) {
    return none(`no cgroup v2 subtree is delegated to you (tsstack runs in ${own.path}, which belongs to root): run it from a delegated cgroup, e.g. \`systemd-run --user --scope -p Delegate=yes tsstack …\`, or as root`);
  }
  let top = 0;
  while (top + 1 < f.chain.length && f.chain[top + 1].delegated) top++;
  const d = f.chain[top];
  const usable = new Set<string>();
  const missing = new Map<string, string>();
  for (const c of WANTED) {
    if (!d.controllers.includes(c)) missing.set(c, `the ${c} controller is not delegated to ${d.path} (its cgroup.controllers: ${d.controllers.join(' ') || 'none'}; with systemd, as root: \`Delegate=cpu cpuset io memory pids\` in a drop-in for user@.service)`);
    else if (!d.subtreeControl.includes(c) && d.hasProcs) missing.set(c, `${d.path} holds processes, and cgroup v2 enables no controller below a cgroup with processes of its own (its subtree_control lacks ${c}): run tsstack from a child cgroup of it`);
    else usable.add(c);
  }
  return { base: d.path, usable, missing };
}

const words = (s: string | undefined): string[] => (s ?? '').split(/\s+/).filter(Boolean);

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The mount point of the cgroup2 hierarchy (its root, not a bind of a subdirectory), from mountinfo. */
export function cgroup2Mount(mountinfo = readOr('/proc/self/mountinfo') ?? ''): string | undefined {
  for (const line of mountinfo.split('\n')) {
    const [pre, post] = line.split(' - ');
    const f = pre?.split(' ') ?? [];
    if (post?.startsWith('cgroup2 ') && f[3] === '/') return f[4];
  }
  return undefined;
}

/**
 * The facts delegation() judges, read for this process (`uid`: the user as this process sees them;
 * `where`: the hierarchy's mount and the process's cgroup in it, read from /proc unless given).
 */
export function cgroupFacts(uid = process.geteuid?.() ?? 0, where: { mount?: string; own?: string } = {}): CgroupFacts {
  const mount = 'mount' in where ? where.mount : cgroup2Mount();
  const own = 'own' in where ? where.own : /^0::(\/.*)$/m.exec(readOr('/proc/self/cgroup') ?? '')?.[1];
  const chain: CgroupDir[] = [];
  if (!mount || !own) return { mount, chain };
  const mine = (p: string, write: boolean): boolean => {
    try {
      const st = statSync(p);
      return st.uid === uid && (!write || (st.mode & 0o200) !== 0);
    } catch {
      return false;
    }
  };
  for (let p = own; p !== '/' && p !== ''; p = p.slice(0, p.lastIndexOf('/')) || '/') {
    const dir = join(mount, p);
    chain.push({
      path: p,
      delegated: mine(dir, true) && mine(join(dir, 'cgroup.procs'), true) && mine(join(dir, 'cgroup.subtree_control'), true),
      controllers: words(readOr(join(dir, 'cgroup.controllers'))),
      subtreeControl: words(readOr(join(dir, 'cgroup.subtree_control'))),
      hasProcs: words(readOr(join(dir, 'cgroup.procs'))).length > 0,
    });
  }
  return { mount, chain };
}

let judged: Delegation | undefined;

/** This process's delegation, judged once (inside the rootless namespace; as root: none is needed). */
export function ownDelegation(): Delegation {
  judged ??= delegation(cgroupFacts());
  return judged;
}

/** The resources with the cgroup limits whose controller `usable` lacks taken out, and the names of those. Pure. */
export function withoutLimits<R extends Resources>(r: R, usable: ReadonlySet<string> = new Set()): { kept: R; dropped: string[] } {
  const kept = { ...r };
  const dropped: string[] = [];
  for (const k of LIMIT_KEYS) {
    if (kept[k] === undefined || usable.has(LIMIT_CONTROLLERS[k])) continue;
    delete kept[k];
    dropped.push(k);
  }
  return { kept, dropped };
}

/** Why the limits `dropped` are not applied: one reason per controller concerned. Pure. */
function reasons(dropped: string[], d: Delegation): string {
  const all = d.missing.get('*');
  if (all) return all;
  const ctls = [...new Set(dropped.map((k) => LIMIT_CONTROLLERS[k as keyof typeof LIMIT_CONTROLLERS]))];
  return ctls.map((c) => d.missing.get(c) ?? `the ${c} controller is missing`).join('; ');
}

const told = new Map<string, Set<string>>();

/**
 * What a container gets of `resources` here: all of it as root; in rootless mode the limits whose
 * controller the delegated subtree lacks (all of them without one) are dropped, and `warn` is told
 * once per project for this command which, and why.
 */
export function applicableResources<R extends Resources>(resources: R, project: string | undefined, warn: (m: string) => void, rootless = insideRootless(), d: () => Delegation = ownDelegation): R {
  if (!rootless) return resources;
  const del = d();
  const { kept, dropped } = withoutLimits(resources, del.usable);
  const key = project ?? '';
  const seen = told.get(key) ?? new Set<string>();
  told.set(key, seen);
  const fresh = dropped.filter((k) => !seen.has(k));
  if (fresh.length) {
    for (const k of fresh) seen.add(k);
    warn(`${project ? `project ${project}: ` : ''}resource limits are not applied in rootless mode (asked for: ${fresh.join(', ')}): ${reasons(fresh, del)}`);
  }
  return kept;
}

/**
 * The container's cgroupsPath: `<parent>/<id>` relative (as root: below the runtime's hierarchy
 * roots), or in rootless mode with a delegated subtree, absolute below it.
 */
export function containerCgroupPath(parent: string | undefined, id: string, rootless = insideRootless(), d: () => Delegation = ownDelegation): string {
  const rel = `${parent ?? 'tsstack'}/${id}`;
  const base = rootless ? d().base : undefined;
  return base ? `${base}/${rel.replace(/^\/+/, '')}` : rel;
}
