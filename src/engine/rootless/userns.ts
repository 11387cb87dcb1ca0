// What the user namespace this process runs in maps, read once from /proc: the
// image unpacker refuses owners outside it, the overlay mount and the unpacker
// switch to the `user.overlay.*` xattrs an unprivileged overlay uses.

import { readFileSync } from 'node:fs';
import { isIdentityMap, parseIdMap, toHost, type IdMap } from './ids.js';

export interface OwnMaps {
  uid: IdMap[];
  gid: IdMap[];
}

let cached: OwnMaps | null | undefined;

/** This process's maps when it runs in a user namespace other than the initial one, else null. */
export function ownUserNamespace(): OwnMaps | null {
  if (cached === undefined) {
    try {
      const uid = parseIdMap(readFileSync('/proc/self/uid_map', 'utf8'));
      const gid = parseIdMap(readFileSync('/proc/self/gid_map', 'utf8'));
      cached = isIdentityMap(uid) && isIdentityMap(gid) ? null : { uid, gid };
    } catch {
      cached = null;
    }
  }
  return cached;
}

/** True when namespace ids `uid`/`gid` can own a file here (always, outside a user namespace). */
export function ownerMapped(uid: number, gid: number, maps = ownUserNamespace()): boolean {
  return !maps || (toHost(maps.uid, uid) !== undefined && toHost(maps.gid, gid) !== undefined);
}
