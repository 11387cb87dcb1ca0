// The model's parsed values written back in Compose's short forms: what
// `tsstack config` prints, what messages quote and what the hashed container
// config keeps (so a container made before the model was parsed keeps its hash).

import type { DeviceCgroupRule, Link, PortRange, Ref, TmpfsEntry, VolumesFromEntry } from './types.js';

/** `8080` or `9000-9005`. */
export function formatPortRange(r: PortRange): string {
  return r.start === r.end ? String(r.start) : `${r.start}-${r.end}`;
}

/** `service:NAME` / `container:NAME`. */
export function formatRef(r: Ref): string {
  return `${r.kind}:${r.name}`;
}

/** `network_mode`, `pid`, `ipc` as Compose writes them. */
export function formatMode(m: string | Ref): string {
  return typeof m === 'string' ? m : formatRef(m);
}

/** `SERVICE` or `SERVICE:ALIAS`. */
export function formatLink(l: Link): string {
  return l.alias === undefined ? l.service : `${l.service}:${l.alias}`;
}

/** `TARGET` or `TARGET:OPTIONS`. */
export function formatTmpfs(t: TmpfsEntry): string {
  return t.options === undefined ? t.target : `${t.target}:${t.options}`;
}

/** `c 1:3 rwm`, `a *:* rwm`. */
export function formatCgroupRule(r: DeviceCgroupRule): string {
  return `${r.type} ${r.major ?? '*'}:${r.minor ?? '*'} ${r.access}`;
}

/** A `volumes_from` entry made from a reference (not read from a file): `service:NAME` / `container:NAME`, then `:ro`/`:rw`. */
export function volumesFromEntry(ref: Ref, readOnly?: boolean): VolumesFromEntry {
  const e: VolumesFromEntry = { ...ref, written: `${formatRef(ref)}${readOnly === undefined ? '' : readOnly ? ':ro' : ':rw'}` };
  if (readOnly !== undefined) e.readOnly = readOnly;
  return e;
}
