// What watch mode watches, derived from the model (pure).
//
// Three kinds of input, each leading to a different response:
//   stack  — a stack file, an included/extended file, `.env`, an env_file: reload and reconcile;
//   build  — a file in a service's build context (or its Dockerfile): rebuild that service;
//   rule   — a path named by a `develop.watch` rule: sync / restart / exec / rebuild per the rule.
import { isAbsolute, join, relative, sep } from 'node:path';
import type { StackModel, WatchRule } from '../model/types.js';

export type WatchTarget =
  | { kind: 'stack'; path: string }
  | { kind: 'build'; path: string; service: string }
  | { kind: 'rule'; path: string; service: string; rule: WatchRule };

export function watchTargets(model: StackModel): WatchTarget[] {
  const out: WatchTarget[] = [];
  // The project's `.env` is read whenever it exists: watch for it even before it does.
  for (const f of [...new Set([...model.sourceFiles, join(model.workingDir, '.env')])].sort()) out.push({ kind: 'stack', path: f });
  for (const name of Object.keys(model.services).sort()) {
    const svc = model.services[name]!;
    const rules = svc.develop?.watch ?? [];
    for (const rule of rules) out.push({ kind: 'rule', path: rule.path, service: name, rule });
    // A service with develop.watch rules is driven by its rules alone, as in Compose;
    // otherwise any change in its build context rebuilds it.
    if (svc.build && rules.length === 0) out.push({ kind: 'build', path: svc.build.context, service: name });
  }
  return out;
}

/** True when `path` is `root` or inside it. */
export function isUnder(path: string, root: string): boolean {
  if (path === root) return true;
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel);
}
