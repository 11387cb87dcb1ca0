// Short string forms of service keys → the model's parsed values: `service:X`
// / `container:X` references, links `SERVICE[:ALIAS]`, tmpfs `TARGET[:OPTIONS]`.
// Pure; the caller locates errors.

import type { Link, Ref, TmpfsEntry } from '../model/types.js';
import { parseBytes } from '../model/units.js';

/** `service:NAME` / `container:NAME` as a Ref (the name may be empty: the caller refuses it); anything else undefined. */
export function parseRef(v: string): Ref | undefined {
  const m = /^(service|container):(.*)$/s.exec(v);
  return m ? { kind: m[1] as Ref['kind'], name: m[2]! } : undefined;
}

/** `network_mode`: a Ref for another's namespace, else the word as written (`none`, `host`, `bridge`…). */
export function parseNetworkMode(v: string): string | Ref {
  return parseRef(v) ?? v;
}

/** `SERVICE` or `SERVICE:ALIAS` (as Compose: text after a second colon is not part of either). */
export function parseLink(v: string): Link {
  const [service, alias] = v.split(':') as [string, string?];
  return alias === undefined ? { service } : { service, alias };
}

/**
 * Mount flags a `tmpfs:` entry may carry (Docker's `--tmpfs` accepts the same). Left out on purpose:
 * `remount`, `bind`, propagation and `mand`, which would act on something other than a fresh tmpfs.
 */
const TMPFS_FLAGS = new Set([
  'rw', 'ro', 'exec', 'noexec', 'suid', 'nosuid', 'dev', 'nodev', 'sync', 'async', 'dirsync',
  'atime', 'noatime', 'diratime', 'nodiratime', 'relatime', 'norelatime', 'strictatime', 'nostrictatime',
  'lazytime', 'nolazytime',
]);

function tmpfsId(what: string, v: string): number {
  if (!/^\d{1,10}$/.test(v) || Number(v) > 0xfffffffe) throw new Error(`tmpfs option ${what}=${v}: expected a numeric id`);
  return Number(v);
}

/** `TARGET` or `TARGET:OPTIONS`; throws (with a message for people) on an option tsstack would not apply. */
export function parseTmpfs(v: string): TmpfsEntry {
  const i = v.indexOf(':');
  if (i < 0) return { target: v };
  const e: TmpfsEntry = { target: v.slice(0, i), options: v.slice(i + 1) };
  const flags: string[] = [];
  for (const raw of e.options!.split(',')) {
    const opt = raw.trim();
    if (opt === '') continue;
    const eq = opt.indexOf('=');
    if (eq < 0) {
      if (!TMPFS_FLAGS.has(opt)) throw new Error(`tmpfs option ${JSON.stringify(opt)} is not supported: use size=, mode=, uid=, gid=, nr_inodes= or a flag such as ro, exec, noatime`);
      flags.push(opt);
      continue;
    }
    const key = opt.slice(0, eq);
    const val = opt.slice(eq + 1);
    if (key === 'size') {
      if (val.endsWith('%')) throw new Error(`tmpfs option size=${val}: write an absolute size such as 64m`);
      const n = parseBytes(val);
      if (n <= 0) throw new Error(`tmpfs option size=${val}: must be more than 0`);
      e.size = n;
    } else if (key === 'mode') {
      if (!/^0?[0-7]{1,4}$/.test(val)) throw new Error(`tmpfs option mode=${val}: expected an octal mode such as 1777`);
      e.mode = parseInt(val, 8);
    } else if (key === 'uid') e.uid = tmpfsId('uid', val);
    else if (key === 'gid') e.gid = tmpfsId('gid', val);
    else if (key === 'nr_inodes') {
      const n = parseBytes(val);
      if (n <= 0) throw new Error(`tmpfs option nr_inodes=${val}: must be more than 0`);
      e.nrInodes = n;
    } else throw new Error(`tmpfs option ${JSON.stringify(key)} is not supported: use size=, mode=, uid=, gid= or nr_inodes=`);
  }
  if (flags.length) e.flags = flags;
  return e;
}
