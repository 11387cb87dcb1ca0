// Watch mode: keeps a stack converged while its files change.
//
// Level-based like the reconciler it drives: every batch of changes reloads the
// model and runs the same reconcile as `up`, so what runs always follows the
// files as they are now, whatever events were missed. A stack file that does not
// load never touches the running stack: the error is shown, the last good model
// stays in force, and the next valid save converges.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { StackModel } from '../model/types.js';
import { classify, isEmpty, type SyncOp, type WatchActions } from './classify.js';
import { Coalescer } from './coalesce.js';
import { watchTargets, type WatchTarget } from './targets.js';

/** What watch mode needs from the rest of tsstack (the CLI provides the real one; tests may too). */
export interface WatchHost {
  load(): Promise<StackModel>;
  /** Reconcile like `up -d`; `rebuild` names services whose images must be rebuilt first. */
  reconcile(model: StackModel, rebuild: string[]): Promise<void>;
  /** Ids of the running containers of a service. */
  runningContainers(service: string): Promise<string[]>;
  copyInto(containerId: string, hostPath: string, containerPath: string): Promise<void>;
  removeIn(containerId: string, containerPath: string): Promise<void>;
  exec(containerId: string, argv: string[], opts: { user?: string; cwd?: string; env?: string[] }): Promise<number>;
  restart(containerId: string): Promise<void>;
  /** True when a path in a service's build context is excluded by its .dockerignore. */
  dockerignored(service: string, relPath: string): boolean;
  /** Start/stop watching these paths (chokidar in the real host). */
  watch(paths: string[], onChange: (path: string) => void): Promise<() => Promise<void>>;
  info(line: string): void;
  error(err: unknown): void;
}

export interface WatchSession {
  /** Resolves when every change seen so far has been handled. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

export async function startWatch(host: WatchHost, opts: { initialModel?: StackModel; quietMs?: number } = {}): Promise<WatchSession> {
  let model = opts.initialModel ?? (await host.load());
  let targets: WatchTarget[] = watchTargets(model);
  let unwatch = await host.watch(uniquePaths(targets), onChange);
  // `initial_sync: true` rules: bring the running containers in step with the host files first.
  try {
    const initial = targets.filter((t) => t.kind === 'rule' && t.rule.initial_sync === true);
    await syncWhole(host, initial, async (service) => host.runningContainers(service), 'initial_sync');
  } catch (e) {
    host.error(e);
  }

  async function handle(paths: string[]): Promise<void> {
    const actions = classify(paths, targets, (svc, rel) => host.dockerignored(svc, rel));
    if (isEmpty(actions)) return;
    if (actions.reload) {
      let next: StackModel;
      try {
        next = await host.load();
      } catch (e) {
        host.error(e);
        host.info('the stack keeps running as it was; fix the file and save again');
        return;
      }
      model = next;
      const nextTargets = watchTargets(model);
      if (uniquePaths(nextTargets).join('\0') !== uniquePaths(targets).join('\0')) {
        await unwatch();
        unwatch = await host.watch(uniquePaths(nextTargets), onChange);
      }
      targets = nextTargets;
    }
    try {
      if (actions.reload || actions.rebuild.length > 0) {
        // A container the reconcile makes starts from its image: files synced into the one it
        // replaces would be lost, so the sync rules' paths are copied into it whole.
        const syncTargets = targets.filter((t) => t.kind === 'rule' && SYNCING.has(t.rule.action));
        const before = new Map<string, Set<string>>();
        for (const svc of new Set(syncTargets.map((t) => (t as { service: string }).service))) {
          before.set(svc, new Set(await host.runningContainers(svc)));
        }
        await host.reconcile(model, actions.rebuild);
        await syncWhole(host, syncTargets, async (service) =>
          (await host.runningContainers(service)).filter((id) => !before.get(service)?.has(id)), 'into the new container');
      }
      await applyLive(host, actions);
    } catch (e) {
      host.error(e);
    }
  }

  const coalescer = new Coalescer(handle, opts.quietMs ?? 100);
  function onChange(path: string): void { coalescer.add(path); }

  return {
    idle: () => coalescer.idle(),
    async stop() { coalescer.cancel(); await unwatch(); },
  };
}

/** Sync, restart and exec into running containers: the changes that need no new container. */
async function applyLive(host: WatchHost, actions: WatchActions): Promise<void> {
  const byService = new Map<string, SyncOp[]>();
  for (const op of actions.sync) byService.set(op.service, [...(byService.get(op.service) ?? []), op]);
  for (const [service, ops] of byService) {
    for (const id of await host.runningContainers(service)) {
      for (const op of ops) {
        if (existsSync(op.hostPath)) {
          if (statSync(op.hostPath).isDirectory()) continue; // files inside arrive as their own events
          await host.copyInto(id, op.hostPath, op.containerPath);
        } else {
          await host.removeIn(id, op.containerPath);
        }
      }
    }
    host.info(`${service}: synced ${ops.length} file${ops.length === 1 ? '' : 's'}`);
  }
  for (const service of actions.restart) {
    for (const id of await host.runningContainers(service)) await host.restart(id);
    host.info(`${service}: restarted`);
  }
  for (const e of actions.exec) {
    const env = e.environment ? Object.entries(e.environment).map(([k, v]) => `${k}=${v}`) : undefined;
    for (const id of await host.runningContainers(e.service)) {
      const code = await host.exec(id, e.command, { user: e.user, cwd: e.working_dir, env });
      host.info(`${e.service}: ran ${e.command.join(' ')} (exit ${code})`);
    }
  }
}

const SYNCING = new Set(['sync', 'sync+restart', 'sync+exec']);

/** Every file under `path` (or `path` itself when it is a file); [] when it is gone. */
function filesUnder(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  const out: string[] = [];
  for (const e of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile() || e.isSymbolicLink()) out.push(p);
  }
  return out;
}

/** Copies every file the sync `rules` cover (honouring their ignore/include) into the containers `which` names. */
async function syncWhole(host: WatchHost, rules: WatchTarget[], which: (service: string) => Promise<string[]>, why: string): Promise<void> {
  const byService = new Map<string, WatchTarget[]>();
  for (const t of rules) if (t.kind === 'rule' && SYNCING.has(t.rule.action)) byService.set(t.service, [...(byService.get(t.service) ?? []), t]);
  for (const [service, ts] of [...byService].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const ids = await which(service);
    if (ids.length === 0) continue;
    const ops = classify(ts.flatMap((t) => filesUnder(t.path)), ts).sync;
    for (const id of ids) for (const op of ops) await host.copyInto(id, op.hostPath, op.containerPath);
    if (ops.length > 0) host.info(`${service}: synced ${ops.length} file${ops.length === 1 ? '' : 's'} (${why})`);
  }
}

function uniquePaths(targets: WatchTarget[]): string[] {
  return [...new Set(targets.map((t) => t.path))].sort();
}
