// One canonical form for JSON that tsstack writes or hashes: object keys sorted
// at every level and `undefined` members dropped, so the same value always gives
// the same bytes (stable hashes, stable files, readable diffs).

export function sortKeysDeep<T>(v: T): T {
  if (Array.isArray(v)) return v.map((x) => (x === undefined ? null : sortKeysDeep(x))) as T;
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sortKeysDeep(x);
    }
    return out as T;
  }
  return v;
}

/** Compact canonical JSON. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeysDeep(value));
}
