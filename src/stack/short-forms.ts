// Short string forms of service keys → the model's parsed values: `service:X`
// / `container:X` references, links `SERVICE[:ALIAS]`, tmpfs `TARGET[:OPTIONS]`.
// Pure; the caller locates errors.

import type { Link, Ref, TmpfsEntry } from '../model/types.js';

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

/** `TARGET` or `TARGET:OPTIONS`. */
export function parseTmpfs(v: string): TmpfsEntry {
  const i = v.indexOf(':');
  return i < 0 ? { target: v } : { target: v.slice(0, i), options: v.slice(i + 1) };
}
