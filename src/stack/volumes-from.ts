// `volumes_from`: `SERVICE`, `service:SERVICE` or `container:NAME`, each with
// an optional `:ro`/`:rw`. The container gets the named volumes and bind
// mounts of that service's first container (or that container) at the same
// targets; `ro`/`rw` override their mode, without one it is kept.

import type { ServiceSpec, StackModel, VolumesFromEntry } from '../model/types.js';
import type { Ctx } from './normalize.js';

export interface VolumesFromRef {
  kind: 'service' | 'container';
  name: string;
  /** true `:ro`, false `:rw`, absent: each mount keeps its own mode. */
  readOnly?: boolean;
}

/** One entry, or why it is not one. */
export function parseVolumesFrom(entry: string): VolumesFromRef | { error: string } {
  const parts = entry.split(':');
  let kind: VolumesFromRef['kind'] = 'service';
  if (parts[0] === 'service' || parts[0] === 'container') {
    if (parts.length === 1) return { error: `volumes_from ${JSON.stringify(entry)} names no ${parts[0]}` };
    kind = parts.shift() as VolumesFromRef['kind'];
  }
  const [name, mode, ...rest] = parts;
  if (!name || rest.length) return { error: `invalid volumes_from ${JSON.stringify(entry)}` };
  if (mode !== undefined && mode !== 'ro' && mode !== 'rw') return { error: `volumes_from ${JSON.stringify(entry)}: mode must be ro or rw, got ${JSON.stringify(mode)}` };
  const ref: VolumesFromRef = { kind, name };
  if (mode) ref.readOnly = mode === 'ro';
  return ref;
}

type Obj = Record<string, unknown>;

/** Reads `volumes_from` of `raw` into `s` (parsed; an empty list leaves it unset); a malformed entry is an error at its line. */
export function normalizeVolumesFrom(ctx: Ctx, name: string, raw: Obj, s: Pick<ServiceSpec, 'volumes_from'>): void {
  const v = raw.volumes_from;
  if (v === undefined || v === null) return;
  const list = (Array.isArray(v) ? v : [v]).map((e) => (typeof e === 'string' ? e : String(e)).trim());
  const parsed = list.map((e, i): VolumesFromEntry => {
    const r = parseVolumesFrom(e);
    if ('error' in r) throw ctx.error(['services', name, 'volumes_from', i], r.error, 'write SERVICE, service:SERVICE or container:NAME, optionally followed by :ro or :rw');
    return { ...r, written: e };
  });
  if (parsed.length) s.volumes_from = parsed;
}

/**
 * Service references must name a service of the stack (an error at the entry's line); one disabled by
 * profiles is dropped with a warning, as a depends_on on it is.
 */
export function checkVolumesFrom(ctx: Ctx, model: StackModel, disabled: Set<string>): void {
  for (const [n, s] of Object.entries(model.services)) {
    if (!s.volumes_from) continue;
    const kept: VolumesFromEntry[] = [];
    s.volumes_from.forEach((r, i) => {
      if (r.kind === 'container' || model.services[r.name]) return void kept.push(r);
      if (disabled.has(r.name)) return ctx.warn(['services', n, 'volumes_from', i], `volumes_from ${r.name}, which is disabled by profiles; ignored`);
      throw ctx.error(['services', n, 'volumes_from', i], `service ${JSON.stringify(n)} refers to undefined service ${r.name}`, 'name a service of this stack, or use container:NAME for another container');
    });
    if (kept.length) s.volumes_from = kept;
    else delete s.volumes_from;
  }
}
