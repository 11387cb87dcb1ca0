// Canonical JSON and the config hash: the same config always gives the same
// bytes (object keys sorted, `undefined` members dropped), so an unchanged
// service hashes the same on every run and a second `up` is a no-op.

import { sha256Hex } from '../util/digest.js';
import { canonicalJson } from '../util/canonical-json.js';

export { canonicalJson };

/** `sha256:<hex>` of the canonical JSON. */
export function configHash(value: unknown): string {
  return 'sha256:' + sha256Hex(canonicalJson(value));
}

/**
 * Names of the fields that differ between two configs, at most one level below
 * the top (`environment.REDIS_URL`, `ports[0]`, `image digest`): enough to say
 * why, short enough for one line. Sorted, deduplicated.
 */
export function changedFields(before: unknown, after: unknown, rename: Record<string, string> = {}): string[] {
  const out = new Set<string>();
  const a = (before ?? {}) as Record<string, unknown>;
  const b = (after ?? {}) as Record<string, unknown>;
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[k];
    const y = b[k];
    if (canonicalJson(x) === canonicalJson(y)) continue;
    const name = rename[k] ?? k;
    if (Array.isArray(x) && Array.isArray(y)) {
      const n = Math.max(x.length, y.length);
      for (let i = 0; i < n; i++) if (canonicalJson(x[i]) !== canonicalJson(y[i])) out.add(`${name}[${i}]`);
    } else if (isPlain(x) && isPlain(y)) {
      for (const kk of new Set([...Object.keys(x), ...Object.keys(y)])) {
        if (canonicalJson(x[kk]) !== canonicalJson(y[kk])) out.add(`${name}.${kk}`);
      }
    } else {
      out.add(name);
    }
  }
  return [...out].sort();
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}
