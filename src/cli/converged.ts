// The converged-`up` cache: lets a no-op `up -d` answer "up to date" without
// opening the engine, observing, deriving and diffing again.
//
// Sound by construction, like model-cache.ts: an entry records that a plan made
// from an observation was empty, keyed by everything else the plan depends on
// (the model, the flags, the environment, the engine paths, tsstack's own build)
// and fingerprinted by what observation reads — the stamps of the engine's state
// files and the liveness of the monitor processes they name. It is used only
// while that fingerprint is unchanged (a check of stats and /proc, no parsing);
// any doubt is a miss, and a miss is just the ordinary path. TSSTACK_NO_CACHE=1
// turns it off.
//
// The state files digested (a part that moves its state must update this list):
//   <root>/containers/<id>/{container.json,state.json}   containers.list()
//   <root>/volumes/<name>/meta.json                      volumes.list()/inspect()
//   <root>/images/*                                      images.inspect() (blobs are content-addressed)
//   <root>/networks/*                                    networks.list()/inspect()
//   /proc/<pid>/stat of every monitorPid those files name (liveness, start time)
//
// and what the records rely on but do not hold (hostFacts: issue 13's "observe the
// real state"): the network namespace (one root used from two), this namespace's DNS
// server (its pid's liveness and start time), and when the root has networks, the
// names of the bridges (/proc/self/net/dev) and the nftables ruleset's change count
// that the DNS server keeps (else the tsstack tables' handles, listed through
// libnftables). A killed DNS server, a deleted bridge or a flushed ruleset is a
// miss, and the full path observes and repairs it.

import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StackModel } from '../model/types.js';
import { dnsServerDir, netnsKey } from '../engine/dns/paths.js';
import { VOLATILE as VOLATILE_ENV } from './model-cache.js';

export interface ConvergedInput {
  root: string;
  runRoot: string;
  model: StackModel;
  /** Services named on the command line and every flag that shapes the plan. */
  request: Record<string, unknown>;
  env: Record<string, string | undefined>;
}

/** What a hit replays: the empty plan's warnings and its JSON form. */
export interface ConvergedOutcome {
  warnings: string[];
  plan: unknown;
}

interface Entry extends ConvergedOutcome {
  key: string;
  state: string;
  pids: number[];
}

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/**
 * Files are compared by size, mtime, ctime and inode (the engine replaces its
 * state files by rename). A file changed within RACY_MS of being stamped could
 * change again within the same timestamp tick unseen, so a state holding one is
 * never recorded (git's "racily clean" rule).
 */
const RACY_MS = 50;

/** The state files observation reads, in a fixed order. */
function stateFiles(root: string): string[] {
  const out: string[] = [];
  const cdir = join(root, 'containers');
  for (const id of list(cdir)) out.push(join(cdir, id, 'container.json'), join(cdir, id, 'state.json'));
  const vdir = join(root, 'volumes');
  for (const v of list(vdir)) out.push(join(vdir, v, 'meta.json'));
  for (const part of ['images', 'networks']) {
    const dir = join(root, part);
    for (const f of list(dir)) if (f !== '.lock' && !f.endsWith('.tmp')) out.push(join(dir, f));
  }
  return out;
}

/** Alive (not a zombie) and since when: the input of the engine's liveness check, robust to pid reuse. */
function pidFact(pid: number): string {
  const stat = readOr(`/proc/${pid}/stat`);
  if (!stat) return 'gone';
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is the state (R/S/D flicker; only zombie-or-dead matters); fields[19] the start time
  return `${fields[0] === 'Z' || fields[0] === 'X' ? 'dead' : 'live'}:${fields[19]}`;
}

/**
 * The host facts behind the records (see the header), each cheap: a stat and a few /proc reads. The
 * nftables part is the DNS server's count of ruleset changes (it follows them from inside the
 * namespace; dns/service.ts); only with no such server is the ruleset listed through libnftables.
 */
async function hostFacts(root: string, runRoot: string): Promise<string> {
  const dir = dnsServerDir(runRoot);
  const dnsPid = Number.parseInt(readOr(join(dir, 'pid'))?.trim() ?? '', 10);
  const dns = dnsPid > 0 ? pidFact(dnsPid) : '-';
  let out = `${netnsKey()}\0dns ${dns}\0`;
  if (!list(join(root, 'networks')).some((f) => f.endsWith('.json') && !f.startsWith('.'))) return out;
  const dev = readOr('/proc/self/net/dev') ?? '';
  out += `links ${[...dev.matchAll(/^\s*(tss-[^:\s]+):/gm)].map((m) => m[1]).sort().join(',')}\0`;
  const events = readOr(join(dir, 'nft'))?.trim().split(' ');
  if (dns.startsWith('live') && events?.length === 2 && Number(events[1]) === dnsPid) return `${out}nft-events ${events[0]}\0`;
  const { Nft } = await import('../engine/network/nft.js');
  const nft = new Nft();
  try {
    const tables = nft.run([{ list: { tables: { family: 'inet' } } }]);
    out += `nft ${tables.filter((o) => String(o.table?.name ?? '').startsWith('tsstack')).map((o) => `${o.table.name}#${o.table.handle}`).sort().join(',')}\0`;
  } catch {
    out += 'nft ?\0'; // unreadable now: a different fact from any recorded one only if it was readable then
  } finally {
    nft.close();
  }
  return out;
}

interface Snapshot {
  digest: string;
  /** Monitor pids the state files name. */
  pids: number[];
  /** A file changed too recently to be vouched for by its stamp. */
  racy: boolean;
}

/** Digest of the state files' stamps, of the liveness of `pids` and of the host facts. */
function digestOf(files: string[], pids: number[], now: number, facts: string): { digest: string; racy: boolean } {
  const h = createHash('sha256');
  h.update(facts);
  let racy = false;
  for (const f of files) {
    let stamp = '-';
    try {
      const s = statSync(f);
      stamp = `${s.size}:${s.mtimeMs}:${s.ctimeMs}:${s.ino}`;
      if (now - Math.max(s.mtimeMs, s.ctimeMs) < RACY_MS) racy = true;
    } catch { /* absent */ }
    h.update(`${f}\0${stamp}\0`);
  }
  for (const pid of pids) h.update(`pid ${pid}=${pidFact(pid)}\0`);
  return { digest: h.digest('hex'), racy };
}

const PID_RE = /"monitorPid"\s*:\s*(\d+)/g;

/** The full view (reads the container files for the pids they name): for recording. */
export async function snapshot(root: string, runRoot: string): Promise<Snapshot> {
  const files = stateFiles(root);
  const pids = new Set<number>();
  for (const f of files) {
    if (!f.endsWith('.json') || !f.includes('/containers/')) continue;
    const text = readOr(f);
    if (text) for (const m of text.matchAll(PID_RE)) pids.add(Number(m[1]));
  }
  const sorted = [...pids].sort((a, b) => a - b);
  return { ...digestOf(files, sorted, Date.now(), await hostFacts(root, runRoot)), pids: sorted };
}

/** Size and mtime of tsstack's own compiled files that make plans: a rebuild is a miss. */
function codeStamp(): string[] {
  const base = fileURLToPath(new URL('../', import.meta.url));
  const out: string[] = [];
  for (const d of ['cli', 'cli/commands', 'reconcile', 'engine', 'engine/runtime', 'engine/image', 'engine/network', 'engine/dns', 'model', 'util']) {
    for (const f of list(join(base, d))) {
      if (!f.endsWith('.js')) continue;
      try {
        const s = statSync(join(base, d, f));
        out.push(`${d}/${f}:${s.size}:${s.mtimeMs}:${s.ino}`);
      } catch { /* vanished mid-listing: the stamp differs next time anyway */ }
    }
  }
  return out;
}

function keyOf(i: ConvergedInput): string {
  const env = Object.entries(i.env).filter(([k, v]) => v !== undefined && !VOLATILE_ENV.has(k)).sort(([a], [b]) => (a < b ? -1 : 1));
  return createHash('sha256').update(JSON.stringify([i.root, i.runRoot, i.request, env, codeStamp(), i.model])).digest('hex');
}

function pathOf(i: ConvergedInput): string {
  return join(i.root, 'cache', 'converged', `${i.model.name}.json`);
}

/** The recorded outcome when the project is still converged for this exact input; else undefined. Stat-only. */
export async function convergedOutcome(i: ConvergedInput): Promise<ConvergedOutcome | undefined> {
  const text = readOr(pathOf(i));
  if (!text) return undefined;
  let e: Entry;
  try {
    e = JSON.parse(text) as Entry;
  } catch {
    return undefined;
  }
  if (e.key !== keyOf(i) || !Array.isArray(e.pids)) return undefined;
  if (digestOf(stateFiles(i.root), e.pids, Date.now(), await hostFacts(i.root, i.runRoot)).digest !== e.state) return undefined;
  return { warnings: e.warnings, plan: e.plan };
}

/**
 * Records that a plan made for `i` was empty. `before` is the snapshot taken
 * before that plan observed: the entry is written only if the state is still
 * the same now, so a change made meanwhile (a concurrent `up`, a monitor that
 * died) is never vouched for.
 */
export async function recordConverged(i: ConvergedInput, before: Snapshot, outcome: ConvergedOutcome): Promise<void> {
  const after = await snapshot(i.root, i.runRoot);
  if (after.digest !== before.digest || after.racy) return;
  const path = pathOf(i);
  // No fsync: a torn or lost cache file after a crash is a miss, never a wrong answer.
  try {
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ key: keyOf(i), state: after.digest, pids: after.pids, ...outcome } satisfies Entry));
    renameSync(tmp, path);
  } catch { /* an unwritable cache is a miss next time */ }
}
