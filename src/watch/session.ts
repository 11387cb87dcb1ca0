// Watch mode: keeps a stack converged while its files change.
//
// Level-based like the reconciler it drives: every batch of changes reloads the
// model and runs the same reconcile as `up`, so what runs always follows the
// files as they are now, whatever events were missed. A stack file that does not
// load never touches the running stack: the error is shown, the last good model
// stays in force, and the next valid save converges.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
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
  /** Start/stop watching these paths (inotify, fs-watch.ts, in the real host). */
  watch(paths: string[], onChange: (path: string) => void): Promise<() => Promise<void>>;
  /** Told the changed paths of a batch that leads to a reconcile (before it is reloaded). */
  changed?(paths: string[]): void;
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
    if (actions.reload || actions.rebuild.length > 0) host.changed?.(paths);
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
    for (const id of await host.runningContainers(service)) await syncInto(host, id, ops);
    host.info(`${service}: synced ${describe(ops)}`);
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

/** Carries out sync ops (sorted: a directory before what is under it) in one container. */
async function syncInto(host: WatchHost, id: string, ops: SyncOp[]): Promise<void> {
  for (const op of ops) {
    if (!existsSync(op.hostPath)) {
      await host.removeIn(id, op.containerPath);
    } else if (statSync(op.hostPath).isDirectory()) {
      // Made empty, so what is below it (its own ops, sorted after it) has a parent;
      // the rule's own root is the target, made when a file first needs it.
      if (op.hostPath !== op.rule.path) await makeDir(host, id, op.containerPath, statSync(op.hostPath).mode & 0o7777);
    } else {
      try {
        await host.copyInto(id, op.hostPath, op.containerPath);
      } catch {
        // The container may lack the directory (a rule's target the image does not have): make it, retry once.
        await makeDir(host, id, posix.dirname(op.containerPath), 0o755);
        await host.copyInto(id, op.hostPath, op.containerPath);
      }
    }
  }
}

/**
 * Makes directory `containerPath` (and its missing parents) in a container with WatchHost.copyInto
 * alone: the chain of directories is copied into `/`, which always exists, so the copy merges into
 * what is there (existing directories keep their owner and mode; the engine resolves the path in
 * the running container's own view, volumes and binds included). Copying into the parent instead
 * would make the parent itself when it is missing (`cp dir /srv` names the copy /srv).
 */
async function makeDir(host: WatchHost, id: string, containerPath: string, mode: number): Promise<void> {
  const parts = containerPath.split('/').filter(Boolean);
  if (parts.length === 0) return;
  const tmp = mkdtempSync(join(tmpdir(), 'tsstack-watch-dir-'));
  try {
    let dir = join(tmp, 'chain');
    mkdirSync(dir);
    for (const [i, p] of parts.entries()) {
      dir = join(dir, p);
      mkdirSync(dir);
      chmodSync(dir, i === parts.length - 1 ? mode : 0o755);
    }
    await host.copyInto(id, join(tmp, 'chain', parts[0]!), '/');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** "3 files", "1 file, 1 removed". */
function describe(ops: SyncOp[]): string {
  let files = 0;
  let removed = 0;
  for (const op of ops) {
    try {
      if (!statSync(op.hostPath).isDirectory()) files++;
    } catch {
      removed++;
    }
  }
  return `${files} file${files === 1 ? '' : 's'}${removed ? `, ${removed} removed` : ''}`;
}

const SYNCING = new Set(['sync', 'sync+restart', 'sync+exec']);

/** Every file and directory under `path` (or `path` itself when it is a file); [] when it is gone. */
function entriesUnder(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  const out: string[] = [];
  for (const e of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    if (e.isDirectory()) out.push(p, ...entriesUnder(p));
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
    const ops = classify(ts.flatMap((t) => entriesUnder(t.path)), ts).sync;
    for (const id of ids) await syncInto(host, id, ops);
    if (ops.length > 0) host.info(`${service}: synced ${describe(ops)} (${why})`);
  }
}

function uniquePaths(targets: WatchTarget[]): string[] {
  return [...new Set(targets.map((t) => t.path))].sort();
}
