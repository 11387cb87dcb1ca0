// The depends_on graph: a stable topological order (ties broken by name, so
// repeated runs print the same plan) and cycle detection.

import { TsstackError } from '../util/errors.js';

/** `deps[s]` = services `s` depends on. Returns every service, dependencies first. */
export function topoOrder(deps: Record<string, string[]>): string[] {
  const names = Object.keys(deps).sort();
  const indeg = new Map<string, number>();
  const users = new Map<string, string[]>();
  for (const n of names) {
    indeg.set(n, 0);
    users.set(n, []);
  }
  for (const n of names) {
    for (const d of new Set(deps[n])) {
      if (!indeg.has(d)) continue; // a dependency outside the selection
      indeg.set(n, indeg.get(n)! + 1);
      users.get(d)!.push(n);
    }
  }
  const ready = names.filter((n) => indeg.get(n) === 0);
  const out: string[] = [];
  while (ready.length) {
    ready.sort();
    const n = ready.shift()!;
    out.push(n);
    for (const u of users.get(n)!) {
      indeg.set(u, indeg.get(u)! - 1);
      if (indeg.get(u) === 0) ready.push(u);
    }
  }
  if (out.length !== names.length) {
    const cycle = findCycle(deps);
    throw new TsstackError('SPEC', `dependency cycle between services: ${cycle.join(' -> ')}`, {
      location: { path: `services.${cycle[0]}.depends_on` },
      hint: 'remove one of the depends_on entries so the services can start in some order',
    });
  }
  return out;
}

function findCycle(deps: Record<string, string[]>): string[] {
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  let found: string[] = [];
  const visit = (n: string): boolean => {
    state.set(n, 1);
    stack.push(n);
    for (const d of [...(deps[n] ?? [])].sort()) {
      if (!(d in deps)) continue;
      if (state.get(d) === 1) {
        found = [...stack.slice(stack.indexOf(d)), d];
        return true;
      }
      if (!state.has(d) && visit(d)) return true;
    }
    stack.pop();
    state.set(n, 2);
    return false;
  };
  for (const n of Object.keys(deps).sort()) if (!state.has(n) && visit(n)) return found;
  return found;
}

/** `roots` and everything they depend on, transitively. */
export function withDependencies(deps: Record<string, string[]>, roots: string[]): Set<string> {
  const out = new Set<string>();
  const walk = (n: string) => {
    if (out.has(n)) return;
    out.add(n);
    for (const d of deps[n] ?? []) walk(d);
  };
  for (const r of roots) walk(r);
  return out;
}

/** Services that depend on any of `roots`, transitively (roots excluded). */
export function dependents(deps: Record<string, string[]>, roots: string[]): Set<string> {
  const out = new Set<string>();
  let grew = true;
  const base = new Set(roots);
  while (grew) {
    grew = false;
    for (const [n, ds] of Object.entries(deps)) {
      if (out.has(n) || base.has(n)) continue;
      if (ds.some((d) => base.has(d) || out.has(d))) {
        out.add(n);
        grew = true;
      }
    }
  }
  return out;
}
