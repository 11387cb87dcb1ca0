// The engine's state fingerprint: a digest of what observing the engine reads,
// cheap enough for the CLI's no-op `up -d` path (src/cli/converged.ts), which
// keeps it beside a recorded "up to date" and answers again only while it is
// unchanged. The engine owns the list of what it keeps where; a part that keeps
// observed state elsewhere must add it here (else a stale "up to date" is possible).
//
// What is digested — stamps (size, mtime, ctime, inode; the engine replaces its
// state files by rename), no parsing:
//   <root>/containers/<id>/ (the directory)              containers.list()
//     its container.json and the monitor's state.json are only ever replaced by rename
//     (writeJsonAtomic, native/monitor/state.c), which changes the directory's mtime and
//     ctime: one stat per container instead of two. A second rename within the same clock
//     tick leaves the directory's stamp as it was, but a stamp that recent is racy (below),
//     so it is never vouched for.
//   <root>/volumes/<name>/meta.json                      volumes.list()/inspect()
//   <root>/images/*                                      images.inspect() (blobs are content-addressed)
//   <root>/networks/*                                    networks.list()/inspect()
//   /proc/<pid>/stat of every monitorPid those files name (liveness, start time)
// and the host facts the records rely on but do not hold (health): the network
// namespace (one root used from two), this namespace's DNS server (its pid's
// liveness and start time), and when the root has networks, the names of the
// bridges (/proc/self/net/dev) and the nftables ruleset's change count that the
// DNS server keeps (else the tsstack tables' handles, listed through libnftables).
// A killed DNS server, a deleted bridge or a flushed ruleset changes it.
//
// Loaded on the CLI's fast path: keep its imports light (no engine part).

import { sha256Hex } from '../util/digest.js';
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { StateFingerprint } from './api.js';
import { dnsServerDir, netnsKey } from './dns/paths.js';
import { stampsShowLaterChanges } from './stamp-grain.js';
import { readOr } from '../util/read-or.js';


/** A directory's names, sorted; [] when it cannot be read. */
export function list(dir: string): string[] {
  try {
    return existsSync(dir) ? readdirSync(dir).sort() : [];
  } catch {
    return [];
  }
}

/**
 * A file changed within RACY_MS of being stamped could change again within the
 * same timestamp tick unseen: a fingerprint holding one says `racy` (git's
 * "racily clean" rule), and callers do not vouch for it.
 *
 * Why 20: Linux stamps files from its coarse clock, which moves once a tick (1–10 ms:
 * CONFIG_HZ 1000–100) and lags the real clock by less than one. A stamp older than two
 * ticks at the coarsest is one no later change can repeat: that change is stamped at
 * least a tick later. Where a look makes any later change show (multigrain stamps: Linux 6.13
 * and later on ext4, XFS, Btrfs and tmpfs, stamp-grain.ts) there is no window at all. Elsewhere
 * every `up` that changes something waits out what is left of it before recording
 * (src/cli/converged.ts), so it is kept as short as is sound; file systems with stamps of a
 * second or more (FAT, NFS with such a server) were never covered.
 */
export const RACY_MS = 20;

/**
 * How long until a newest stamp of `newest` (ms since the epoch; -Infinity: none) is out of the racy
 * window, seen at `now`; 0 when `fine` says the stamps show any change after a look (stamp-grain.ts),
 * asked only when the stamp is that recent.
 */
export function racyFor(newest: number, now: number, fine: () => boolean): number {
  const left = Math.max(0, Math.ceil(newest + RACY_MS - now));
  return left > 0 && !fine() ? left : 0;
}

/** The state files observation reads, in a fixed order. */
function stateFiles(root: string): string[] {
  const out: string[] = [];
  const cdir = join(root, 'containers');
  for (const id of list(cdir)) out.push(`${cdir}/${id}`);
  const vdir = join(root, 'volumes');
  for (const v of list(vdir)) out.push(join(vdir, v, 'meta.json'));
  for (const part of ['images', 'networks']) {
    const dir = join(root, part);
    for (const f of list(dir)) if (f !== '.lock' && !f.endsWith('.tmp')) out.push(join(dir, f));
  }
  return out;
}

/** One buffer for every /proc/<pid>/stat read: a stat line is a few hundred bytes (comm ≤ 64). */
const STAT_BUF = Buffer.allocUnsafe(4096);

/**
 * Alive (not a zombie) and since when: the input of the engine's liveness check, robust to pid reuse.
 * Read with open/read/close into one buffer: the no-op `up` reads one per container, and
 * readFileSync's stat, growing reads and decoding were most of its cost.
 */
function pidFact(pid: number): string {
  let n: number;
  try {
    const fd = openSync(`/proc/${pid}/stat`, 'r');
    try {
      n = readSync(fd, STAT_BUF, 0, STAT_BUF.length, null);
    } finally {
      closeSync(fd);
    }
  } catch {
    return 'gone';
  }
  const stat = STAT_BUF.toString('latin1', 0, n);
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ', 21);
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
  const { Nft } = await import('./network/nft.js');
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

/**
 * Digest of the state files' stamps, of the liveness of `pids` and of the host facts. `fine`: as racyFor.
 */
function digestOf(files: string[], pids: number[], now: number, facts: string, fine: () => boolean): { digest: string; racy: boolean; racyForMs: number } {
  // one string, hashed once: a few hundred small update() calls cost more than the stats
  let text = facts;
  let newest = -Infinity;
  for (const f of files) {
    const s = statSync(f, { throwIfNoEntry: false });
    let stamp = '-';
    if (s) {
      stamp = `${s.size}:${s.mtimeMs}:${s.ctimeMs}:${s.ino}`;
      newest = Math.max(newest, s.mtimeMs, s.ctimeMs);
    }
    text += `${f}\0${stamp}\0`;
  }
  for (const pid of pids) text += `pid ${pid}=${pidFact(pid)}\0`;
  // the window ends RACY_MS after the newest stamp, not after this look: whoever waits for it waits only what is left
  const racyForMs = racyFor(newest, now, fine);
  return { digest: sha256Hex(text), racy: racyForMs > 0, racyForMs };
}

const PID_RE = /"monitorPid"\s*:\s*(\d+)/g;

/**
 * The fingerprint of the engine's state under `root`/`runRoot`. Without `pids`, the
 * container files are read for the monitor pids they name (for recording); with the
 * pids a recorded fingerprint named, only stats and /proc reads are made (for checking).
 */
export async function stateFingerprint(root: string, runRoot: string, opts: { pids?: number[]; stamps?: 'fine' | 'coarse' } = {}): Promise<StateFingerprint> {
  const files = stateFiles(root);
  let pids = opts.pids;
  if (!pids) {
    const found = new Set<number>();
    const cdir = `${join(root, 'containers')}/`;
    for (const d of files) {
      if (!d.startsWith(cdir)) continue;
      for (const f of ['container.json', 'state.json']) {
        const text = readOr(`${d}/${f}`);
        if (text) for (const m of text.matchAll(PID_RE)) found.add(Number(m[1]));
      }
    }
    pids = [...found].sort((a, b) => a - b);
  }
  const fine = () => (opts.stamps ? opts.stamps === 'fine' : stampsShowLaterChanges(root));
  return { ...digestOf(files, pids, Date.now(), await hostFacts(root, runRoot), fine), pids };
}
