// Subordinate ids (/etc/subuid, /etc/subgid) and the user namespace mapping made
// from them. Pure: the files' text comes in, the mapping and newuidmap's
// arguments go out.
//
// The mapping is Podman's: id 0 in the namespace is the user themself, ids 1…N
// are the user's subordinate ranges one after another. So a container's root
// writes files that belong to the user on the host (what people expect of a bind
// mount), and an image's other owners (daemon, www-data, 1000…) land on
// subordinate ids no other user holds. Without subordinate ids the namespace
// maps the user alone to 0: images whose files belong to anyone but root cannot
// be unpacked, and the CLI says so once.

export interface IdRange {
  start: number;
  count: number;
}

/** One line of uid_map / gid_map: ids [inside, inside+size) are host ids [outside, outside+size). */
export interface IdMap {
  containerID: number;
  hostID: number;
  size: number;
}

const MAX_ID = 2 ** 32 - 1; // (uid_t)-1 is never a valid id

/**
 * The ranges /etc/subuid (or /etc/subgid) gives a user, matched by name or by
 * decimal id as shadow's newuidmap does. Comments, blank and malformed lines are
 * skipped; overlapping or empty ranges are dropped.
 */
export function parseSubIds(text: string, user: { name?: string; id: number }): IdRange[] {
  const out: IdRange[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const parts = line.split(':');
    if (parts.length !== 3) continue;
    const [who, s, c] = parts;
    if (!(who === user.name || who === String(user.id))) continue;
    if (!/^\d+$/.test(s) || !/^\d+$/.test(c)) continue;
    const start = Number(s);
    const count = Number(c);
    if (count === 0 || start + count - 1 >= MAX_ID) continue;
    if (out.some((r) => start < r.start + r.count && r.start < start + count)) continue;
    out.push({ start, count });
  }
  return out;
}

/** The namespace's mapping: 0 → the user's own id, then every subordinate range in order. */
export function idMappings(ownId: number, ranges: readonly IdRange[]): IdMap[] {
  const maps: IdMap[] = [{ containerID: 0, hostID: ownId, size: 1 }];
  let next = 1;
  for (const r of ranges) {
    // the kernel refuses a map whose host ids overlap another line's: the user's own id inside a range is cut out
    for (const piece of without(r, ownId)) {
      maps.push({ containerID: next, hostID: piece.start, size: piece.count });
      next += piece.count;
    }
  }
  return maps;
}

function without(r: IdRange, id: number): IdRange[] {
  if (id < r.start || id >= r.start + r.count) return [r];
  return [
    { start: r.start, count: id - r.start },
    { start: id + 1, count: r.start + r.count - id - 1 },
  ].filter((p) => p.count > 0);
}

/** How many ids inside the namespace are mapped (0 … size-1). */
export function mappedSize(maps: readonly IdMap[]): number {
  return maps.reduce((n, m) => Math.max(n, m.containerID + m.size), 0);
}

/** The host id that namespace id `id` is, or undefined when it is not mapped. */
export function toHost(maps: readonly IdMap[], id: number): number | undefined {
  const m = maps.find((x) => id >= x.containerID && id < x.containerID + x.size);
  return m && m.hostID + (id - m.containerID);
}

/** newuidmap / newgidmap arguments for process `pid`: `pid inside outside count …`. */
export function newIdMapArgs(pid: number, maps: readonly IdMap[]): string[] {
  return [String(pid), ...maps.flatMap((m) => [String(m.containerID), String(m.hostID), String(m.size)])];
}

/** uid_map / gid_map text, one line per range, as the kernel reads it in one write. */
export function idMapText(maps: readonly IdMap[]): string {
  return maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

/** /proc/PID/uid_map (or gid_map) text → its lines. */
export function parseIdMap(text: string): IdMap[] {
  return text
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter((f) => f.length === 3 && f.every((n) => Number.isInteger(n) && n >= 0))
    .map(([containerID, hostID, size]) => ({ containerID, hostID, size }));
}

/** True for the initial namespace's map, which maps every id to itself. */
export function isIdentityMap(maps: readonly IdMap[]): boolean {
  return maps.length === 1 && maps[0].containerID === 0 && maps[0].hostID === 0 && maps[0].size === 2 ** 32 - 1;
}

/** The ids the map covers inside, as `0–65536` ranges for messages. */
export function describeMapped(maps: readonly IdMap[]): string {
  const runs: [number, number][] = [];
  for (const m of [...maps].sort((a, b) => a.containerID - b.containerID)) {
    const last = runs[runs.length - 1];
    if (last && last[1] + 1 === m.containerID) last[1] = m.containerID + m.size - 1;
    else runs.push([m.containerID, m.containerID + m.size - 1]);
  }
  return runs.map(([a, b]) => (a === b ? `${a}` : `${a}–${b}`)).join(', ') || 'none';
}
