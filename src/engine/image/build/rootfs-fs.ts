// File operations inside a container root seen from the host: every path is
// resolved inside the root (symlinks, absolute or relative, never lead out of
// it), users and groups come from the root's /etc/passwd and /etc/group.

import { lstatSync, readlinkSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';

/**
 * Host path for `path` inside `root`, following symlinks of every existing
 * component as if `root` were `/`. Missing trailing components are appended
 * as is. With `followLast` false, a final symlink is not followed.
 */
export function resolveInRoot(root: string, path: string, followLast = true): string {
  let parts = posix.normalize('/' + path).split('/').filter(Boolean);
  const done: string[] = [];
  let hops = 0;
  while (parts.length > 0) {
    const p = parts.shift()!;
    if (p === '..') { done.pop(); continue; }
    if (p === '.') continue;
    const host = join(root, ...done, p);
    let st;
    try { st = lstatSync(host); } catch { done.push(p, ...parts); break; }
    if (st.isSymbolicLink() && (parts.length > 0 || followLast)) {
      if (++hops > 40) throw new Error(`too many levels of symbolic links resolving ${path}`);
      const target = readlinkSync(host);
      if (target.startsWith('/')) done.length = 0;
      parts = [...target.split('/').filter(Boolean), ...parts];
      continue;
    }
    done.push(p);
  }
  return join(root, ...done);
}

interface IdEntry { name: string; id: number; gid?: number; home?: string; members?: string[] }

function readDb(root: string, file: string): IdEntry[] {
  let text: string;
  try { text = readFileSync(resolveInRoot(root, file), 'utf8'); } catch { return []; }
  const out: IdEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || !/^\d+$/.test(f[2]!)) continue;
    if (file.endsWith('passwd')) out.push({ name: f[0]!, id: Number(f[2]), gid: Number(f[3]), home: f[5] || '/' });
    else out.push({ name: f[0]!, id: Number(f[2]), members: f[3]!.split(',').filter(Boolean) });
  }
  return out;
}

export class UserLookupError extends Error {}

export interface ResolvedUser { uid: number; gid: number; additionalGids: number[]; home: string }

/**
 * `user[:group]` (names or numbers) → ids, from the root's databases. A
 * numeric user missing from /etc/passwd gets gid 0, as Docker does.
 */
export function resolveUser(root: string, spec: string): ResolvedUser {
  const [u = '', g] = spec.split(':', 2);
  const passwd = readDb(root, '/etc/passwd');
  const groups = readDb(root, '/etc/group');
  let uid: number;
  let gid: number;
  let name: string | undefined;
  let home = '/';
  if (/^\d+$/.test(u)) {
    uid = Number(u);
    const e = passwd.find((x) => x.id === uid);
    gid = e?.gid ?? 0;
    name = e?.name;
    home = e?.home ?? '/';
  } else {
    const e = passwd.find((x) => x.name === (u || 'root'));
    if (!e) {
      if (u === '' || u === 'root') { uid = 0; gid = 0; name = 'root'; home = '/root'; } else throw new UserLookupError(`unable to find user ${u}: no matching entries in passwd file`);
    } else { uid = e.id; gid = e.gid ?? 0; name = e.name; home = e.home ?? '/'; }
  }
  if (g !== undefined && g !== '') {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const e = groups.find((x) => x.name === g);
      if (!e) throw new UserLookupError(`unable to find group ${g}: no matching entries in group file`);
      gid = e.id;
    }
  }
  const additionalGids = g === undefined && name
    ? groups.filter((x) => x.members?.includes(name!) && x.id !== gid).map((x) => x.id).sort((a, b) => a - b)
    : [];
  return { uid, gid, additionalGids, home };
}

/** `--chown` value → ids; a missing group part means the user's primary group (or the same number). */
export function resolveChown(root: string, spec: string): { uid: number; gid: number } {
  const [u = '', g] = spec.split(':', 2);
  if (/^\d+$/.test(u) && (g === undefined || /^\d+$/.test(g))) return { uid: Number(u), gid: Number(g ?? u) };
  const r = resolveUser(root, spec);
  if (g === undefined && /^\d+$/.test(u)) return { uid: r.uid, gid: r.uid };
  return { uid: r.uid, gid: r.gid };
}
