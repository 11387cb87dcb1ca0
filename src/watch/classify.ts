// Turns a batch of changed host paths into what to do (pure).
import { posix, relative } from 'node:path';
import { minimatch } from 'minimatch';
import type { WatchRule } from '../model/types.js';
import { isUnder, type WatchTarget } from './targets.js';

export interface SyncOp {
  service: string;
  rule: WatchRule;
  /** Host path that changed. */
  hostPath: string;
  /** Where it goes in the container. */
  containerPath: string;
}

export interface WatchActions {
  /** A stack file or env file changed: reload the model and reconcile. */
  reload: boolean;
  /** Services to rebuild (then reconcile replaces their containers). */
  rebuild: string[];
  /** Files to copy into (or, when gone from the host, remove from) running containers. */
  sync: SyncOp[];
  /** Services to restart after their sync ops (`sync+restart`, `restart`). */
  restart: string[];
  /** Exec hooks to run after sync (`sync+exec`). */
  exec: { service: string; command: string[]; user?: string; working_dir?: string; environment?: Record<string, string> }[];
}

export interface IgnoreTest {
  /** For build contexts: true when the path is excluded by the context's .dockerignore. */
  (service: string, relPath: string): boolean;
}

/** Paths an editor or VCS touches that never mean a change of content. */
const ALWAYS_IGNORED = ['**/.git/**', '**/*~', '**/.*.swp', '**/.*.swx', '**/4913', '**/.#*'];

function ignoredBy(patterns: string[], rel: string): boolean {
  return patterns.some((p) => minimatch(rel, p, { dot: true }) || minimatch(rel, `${p.replace(/\/$/, '')}/**`, { dot: true }));
}

export function classify(changed: string[], targets: WatchTarget[], dockerignored: IgnoreTest = () => false): WatchActions {
  const out: WatchActions = { reload: false, rebuild: [], sync: [], restart: [], exec: [] };
  const rebuild = new Set<string>();
  const restart = new Set<string>();
  const execKeys = new Set<string>();
  for (const path of [...new Set(changed)].sort()) {
    if (ALWAYS_IGNORED.some((p) => minimatch(path, p, { dot: true }))) continue;
    for (const t of targets) {
      if (!isUnder(path, t.path)) continue;
      const rel = relative(t.path, path).split('\\').join('/');
      switch (t.kind) {
        case 'stack':
          out.reload = true;
          break;
        case 'build':
          if (!dockerignored(t.service, rel)) rebuild.add(t.service);
          break;
        case 'rule': {
          const { rule, service } = t;
          if (rule.ignore && ignoredBy(rule.ignore, rel)) break;
          if (rule.include && rule.include.length > 0 && !rule.include.some((p) => minimatch(rel, p, { dot: true }))) break;
          if (rule.action === 'rebuild') { rebuild.add(service); break; }
          if (rule.action === 'restart') { restart.add(service); break; }
          const target = rule.target ?? rule.path;
          out.sync.push({ service, rule, hostPath: path, containerPath: rel === '' ? target : posix.join(target, rel) });
          if (rule.action === 'sync+restart') restart.add(service);
          if (rule.action === 'sync+exec' && rule.exec) {
            const key = `${service}\0${rule.exec.command.join('\0')}`;
            if (!execKeys.has(key)) {
              execKeys.add(key);
              out.exec.push({ service, command: rule.exec.command, user: rule.exec.user, working_dir: rule.exec.working_dir, environment: rule.exec.environment });
            }
          }
          break;
        }
      }
    }
  }
  out.rebuild = [...rebuild].sort();
  // A rebuilt service gets new containers anyway: no restart or sync needed for it.
  out.restart = [...restart].filter((s) => !rebuild.has(s)).sort();
  out.sync = out.sync.filter((op) => !rebuild.has(op.service));
  out.exec = out.exec.filter((e) => !rebuild.has(e.service));
  return out;
}

export function isEmpty(a: WatchActions): boolean {
  return !a.reload && a.rebuild.length === 0 && a.sync.length === 0 && a.restart.length === 0 && a.exec.length === 0;
}
