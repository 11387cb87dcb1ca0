// `user` strings (`name`, `uid`, `name:group`, `uid:gid`) resolved against a
// root filesystem's /etc/passwd and /etc/group, as Docker does: a numeric id
// needs no entry; a name must exist; supplementary groups are the groups that
// list the user plus `group_add`.

import { readFileInRoot } from './in-root.js';
import { TsstackError } from '../../util/errors.js';

export interface PasswdEntry { name: string; uid: number; gid: number; home: string }
export interface GroupEntry { name: string; gid: number; members: string[] }
export interface ResolvedUser { uid: number; gid: number; additionalGids: number[]; home: string }

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 7) continue;
    const uid = Number(f[2]), gid = Number(f[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) continue;
    out.push({ name: f[0]!, uid, gid, home: f[5]! });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 4) continue;
    const gid = Number(f[2]);
    if (!Number.isInteger(gid)) continue;
    out.push({ name: f[0]!, gid, members: f[3]!.split(',').filter(Boolean) });
  }
  return out;
}

const isId = (s: string) => /^\d+$/.test(s);

/** Pure: resolves `user` (default root) with the given databases. Throws a RUNTIME error naming what is missing. */
export function resolveUser(user: string | undefined, passwd: PasswdEntry[], groups: GroupEntry[], groupAdd: string[] = []): ResolvedUser {
  const [u = '', g] = (user ?? '').split(':', 2);
  let uid = 0, gid = 0, home = '/', name: string | undefined;
  if (u === '' ) {
    const root = passwd.find((p) => p.uid === 0);
    name = root?.name ?? 'root';
    home = root?.home ?? '/root';
  } else if (isId(u)) {
    uid = Number(u);
    const p = passwd.find((e) => e.uid === uid);
    if (p) { gid = p.gid; home = p.home; name = p.name; }
  } else {
    const p = passwd.find((e) => e.name === u);
    if (!p) throw new TsstackError('RUNTIME', `unable to find user ${u}: no matching entries in the image's /etc/passwd`, { hint: 'use a numeric uid or a user the image defines' });
    uid = p.uid; gid = p.gid; home = p.home; name = p.name;
  }
  if (g !== undefined && g !== '') {
    if (isId(g)) gid = Number(g);
    else {
      const e = groups.find((x) => x.name === g);
      if (!e) throw new TsstackError('RUNTIME', `unable to find group ${g}: no matching entries in the image's /etc/group`, { hint: 'use a numeric gid or a group the image defines' });
      gid = e.gid;
    }
  }
  const extra = new Set<number>();
  if (name !== undefined && (g === undefined || g === '')) for (const e of groups) if (e.members.includes(name) && e.gid !== gid) extra.add(e.gid);
  for (const a of groupAdd) {
    if (isId(a)) { extra.add(Number(a)); continue; }
    const e = groups.find((x) => x.name === a);
    if (!e) throw new TsstackError('RUNTIME', `unable to find group ${a} (group_add): no matching entries in the image's /etc/group`, { hint: 'use a numeric gid or a group the image defines' });
    extra.add(e.gid);
  }
  return { uid, gid, additionalGids: [...extra].sort((a, b) => a - b), home };
}

/** Resolves against `<rootfs>/etc/passwd` and `<rootfs>/etc/group` (missing files = empty databases; symlinks stay inside the rootfs). */
export function resolveUserInRootfs(rootfs: string, user: string | undefined, groupAdd: string[] = []): ResolvedUser {
  return resolveUser(user, parsePasswd(readFileInRoot(rootfs, '/etc/passwd')), parseGroup(readFileInRoot(rootfs, '/etc/group')), groupAdd);
}
