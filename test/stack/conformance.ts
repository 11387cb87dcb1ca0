// Access to ../shared/conformance (other projects' test data, read-only) and
// a tally of table-driven cases, so each test file can report "N of M pass".

import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

export const CONFORMANCE = resolve(process.cwd(), '../shared/conformance');
export const haveConformance = existsSync(CONFORMANCE);

export function conformancePath(...parts: string[]): string {
  return join(CONFORMANCE, ...parts);
}

export function readTable<T>(...parts: string[]): T {
  return parse(readFileSync(conformancePath(...parts), 'utf8'), { merge: false }) as T;
}

/** Cases whose failure we accept, by case id, with the reason; each is asserted to still fail. */
export type KnownFailures = Record<string, string>;

export class Tally {
  pass = 0;
  fail: string[] = [];
  constructor(readonly set: string) {}
  record(id: string, ok: boolean, reason?: string): void {
    if (ok) this.pass++;
    else this.fail.push(reason ? `${id}: ${reason}` : id);
  }
  summary(): string {
    const total = this.pass + this.fail.length;
    return `[tally] ${this.set}: ${this.pass} of ${total} pass` + (this.fail.length ? `\n  failing (known):\n    ${this.fail.join('\n    ')}` : '');
  }
}

/** Deep equality on plain data (key order ignored). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((x, i) => deepEqual(x, (b as unknown[])[i]));
  const ka = Object.keys(a as object).sort();
  const kb = Object.keys(b as object).sort();
  return deepEqual(ka, kb) && ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
