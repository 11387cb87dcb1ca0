// `up --watch` and `tsstack watch`: the CLI's WatchHost for src/watch/session.ts —
// reload the model with the same global options, reconcile with the options of
// the `up` that started it (plus removing services deleted from the file),
// carry out live syncs through the engine, and show each reconcile's plan and
// progress as `up` does, then (attached) the merged logs.
//
// Ctrl-C (or SIGTERM) stops watching; in attached mode it also stops the
// stack's containers, as `docker compose up` does. A second Ctrl-C exits at once.

import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { ContainerInfo, Engine } from '../engine/api.js';
import { LABEL } from '../engine/api.js';
import type { StackModel } from '../model/types.js';
import type { UpOptions } from '../reconcile/up.js';
import type { Plan } from '../reconcile/plan.js';
import { Context, untilInterrupted } from './context.js';
import { EXIT_FAILED, renderError } from './errors.js';
import { liveView, listrProgress, progressFor, type Progress } from './render.js';
import { LogFollower } from './watch-logs.js';
import { reexecWith } from '../util/reexec.js';

export interface WatchMode {
  /** Follow the merged logs of the stack's containers (attached `up --watch`). */
  logs: boolean;
  /** Ctrl-C also stops the stack's containers (attached `up --watch` without --keep). */
  stopOnInterrupt: boolean;
  /** Services whose logs are followed; all when empty. */
  services?: string[];
  colour?: boolean;
  prefix?: boolean;
  /** Serve the dashboard while watching (src/ui/); its history shows each reconcile and the change that made it. */
  ui?: { port: number };
}

/** `.dockerignore` patterns of a build context (comments and blanks dropped). */
function ignorePatterns(context: string): string[] {
  const f = join(context, '.dockerignore');
  if (!existsSync(f)) return [];
  return readFileSync(f, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
}

/** Plain-text announcement of a reconcile's plan (a live view shows it itself). */
export function planLines(plan: Plan): string[] {
  return plan.empty ? ['watch: nothing to change'] : plan.lines().map((l) => `watch: plan: ${l}`);
}

/**
 * One line per service after a reconcile: its containers' states (`web: 2 running`,
 * `db: 1 running (healthy)`, `job: 1 exited (0)`), services sorted; a service
 * with no container says so.
 */
export function statusLines(services: string[], containers: Pick<ContainerInfo, 'labels' | 'status' | 'health' | 'exitCode'>[]): string[] {
  return [...services].sort().map((svc) => {
    const counts = new Map<string, number>();
    for (const c of containers) {
      if (c.labels[LABEL.service] !== svc || c.labels[LABEL.oneoff] === 'True') continue;
      const state = c.status === 'exited' ? `exited (${c.exitCode ?? '?'})` : c.health ? `${c.status} (${c.health})` : c.status;
      counts.set(state, (counts.get(state) ?? 0) + 1);
    }
    const parts = [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([st, n]) => `${n} ${st}`);
    return `watch: ${svc}: ${parts.length ? parts.join(', ') : 'no containers'}`;
  });
}

/**
 * `up --watch` idles for hours between changes, and V8's memory reducer, which collects the heap
 * again and again once a process has gone quiet (every few seconds, on the main thread and the
 * workers), was most of its idle CPU: 1.5–2 % of a core here, where every wake-up of a process costs
 * milliseconds. The watcher replaces itself once, before it does anything, with the same command
 * without it (src/util/reexec.ts); its heap then stays at its size after a reconcile.
 */
export const WATCH_FLAGS = ['--no-memory-reducer'];

export function execForWatch(env: NodeJS.ProcessEnv): void {
  reexecWith(WATCH_FLAGS, 'TSSTACK_WATCH_EXEC', env);
}

export async function runWatch(ctx: Context, engine: Engine, model: StackModel, opts: UpOptions, mode: WatchMode = { logs: false, stopOnInterrupt: false }): Promise<number> {
  const { startWatch } = await import('../watch/session.js');
  const { watchPaths } = await import('../watch/fs-watch.js');
  const { minimatch } = await import('minimatch');
  const { up } = await import('../reconcile/up.js');
  const live = liveView(ctx.io);
  const Listr = live ? (await import('listr2')).Listr : undefined;
  const logs = mode.logs ? new LogFollower(ctx.io, engine, model.name, { colour: mode.colour, prefix: mode.prefix, services: mode.services }) : undefined;
  let current = model;
  const dash = mode.ui ? await (await import('../ui/dashboard.js')).openDashboard({ ctx, engine, project: model.name, upOptions: { ...opts, removeOrphans: true }, hasStack: true, port: mode.ui.port }) : undefined;
  if (dash) ctx.io.err(`dashboard: ${dash.url}`);
  let lastChanged: string[] = [];

  const reconcile = async (m: StackModel, rebuild: string[]): Promise<void> => {
    const started = Date.now();
    let progress: Progress = Listr ? { event: () => {}, line: () => {}, done: () => {} } : progressFor(ctx.io);
    if (Listr) logs?.hold();
    const shown = lastChanged.map((p) => relative(current.workingDir, p) || p);
    const report = dash?.reconcile(shown.length ? `watch: ${shown.slice(0, 3).join(', ')}${shown.length > 3 ? ` and ${shown.length - 3} more` : ''} changed` : 'watch');
    lastChanged = [];
    let outcome;
    try {
      outcome = await ctx.locked(m.name, () => up(engine, m, {
        ...opts,
        // Watch mode follows the file: a service deleted from it goes (issue 7).
        removeOrphans: true,
        build: rebuild.length > 0 ? true : opts.build,
        onEvent: (e) => progress.event(e),
        onProgress: (_r, l) => progress.line(l),
        onPlan: (p) => {
          report?.plan(p);
          if (Listr && !p.empty) progress = listrProgress(Listr, ctx.io, p, { noStart: opts.noStart });
          else for (const l of planLines(p)) ctx.io.err(l);
        },
      }));
    } catch (e) {
      report?.done([e instanceof Error ? e.message : String(e)], []);
      throw e;
    } finally {
      await progress.done();
      logs?.release();
    }
    report?.done(outcome.result.failed.map((f) => `${f.resource}: ${f.message}`), [...outcome.result.warnings]);
    for (const w of outcome.result.warnings) ctx.io.err(`warning: ${w}`);
    for (const f of outcome.result.failed) ctx.io.err(`watch: ${f.resource}: ${f.message}`);
    if (!outcome.plan.empty && !outcome.result.failed.length) ctx.io.err(`watch: ${m.name} converged (${outcome.plan.actions.length} action${outcome.plan.actions.length === 1 ? '' : 's'}, ${Date.now() - started} ms)`);
    if (!outcome.plan.empty) {
      const cs = await engine.containers.list({ [LABEL.project]: m.name });
      for (const l of statusLines(Object.keys(m.services), cs)) ctx.io.err(l);
    }
    await logs?.refresh();
  };

  const session = await startWatch({
    load: async () => {
      current = await new Context(ctx.g, ctx.io).loadModel();
      return current;
    },
    reconcile,
    runningContainers: async (service) => (await engine.containers.list({ [LABEL.project]: current.name, [LABEL.service]: service }))
      .filter((c) => c.status === 'running' && c.labels[LABEL.oneoff] !== 'True').map((c) => c.id),
    copyInto: async (id, host, target) => {
      for (const s of (await engine.containers.copy(id, host, target, 'in')).skipped) ctx.io.err(`watch: not synced: ${s}`);
    },
    removeIn: async (id, target) => {
      await engine.containers.exec(id, ['rm', '-rf', '--', target], {});
    },
    exec: (id, argv, o) => engine.containers.exec(id, argv, { user: o.user, cwd: o.cwd, env: o.env }),
    restart: async (id) => {
      await engine.containers.stop(id, opts.stopTimeoutMs);
      await engine.containers.start(id);
      await logs?.refresh();
    },
    dockerignored: (service, rel) => {
      const ctxDir = current.services[service]?.build?.context;
      if (!ctxDir) return false;
      let ignored = false;
      for (const p of ignorePatterns(ctxDir)) {
        const neg = p.startsWith('!');
        const pat = neg ? p.slice(1) : p;
        if (minimatch(rel, pat, { dot: true }) || minimatch(rel, `${pat}/**`, { dot: true })) ignored = !neg;
      }
      return ignored;
    },
    watch: watchPaths,
    changed: (paths) => {
      lastChanged = paths;
      const shown = paths.slice(0, 3).map((p) => relative(current.workingDir, p) || p);
      ctx.io.err(`watch: changed: ${shown.join(', ')}${paths.length > 3 ? ` and ${paths.length - 3} more` : ''}`);
    },
    info: (l) => ctx.io.err(`watch: ${l}`),
    error: (e) => ctx.io.err(renderError(e, ctx.debug)),
  }, { initialModel: model });

  await logs?.refresh((names) => ctx.io.err(`attaching to ${names.join(', ')}`));
  ctx.io.err(mode.stopOnInterrupt
    ? 'watch: watching for changes (Ctrl-C to stop watching and stop the stack)'
    : 'watch: watching for changes (Ctrl-C to stop watching; the stack keeps running)');
  await untilInterrupted();
  ctx.io.err('watch: stopping watching…');
  await session.stop();
  await session.idle();
  let code = 0;
  if (mode.stopOnInterrupt) {
    ctx.io.err('stopping…');
    code = await stopStack(ctx, engine, current.name, opts.stopTimeoutMs);
  }
  // Cancels the reads of containers left running (--keep), so nothing keeps the process alive.
  await logs?.stop(mode.stopOnInterrupt ? 1000 : 0);
  await dash?.close();
  return code;
}

/** Stops every running service container of the project (they stay, as after `docker compose up` + Ctrl-C). */
async function stopStack(ctx: Context, engine: Engine, project: string, timeoutMs: number | undefined): Promise<number> {
  return ctx.locked(project, async () => {
    const running = (await engine.containers.list({ [LABEL.project]: project }))
      .filter((c) => c.status === 'running' && c.labels[LABEL.oneoff] !== 'True')
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    let failed = 0;
    await Promise.all(running.map(async (c) => {
      try {
        await engine.containers.stop(c.id, timeoutMs);
        ctx.io.err(`container:${c.name}  Stopped`);
      } catch (e) {
        failed++;
        ctx.io.err(renderError(e, ctx.debug));
      }
    }));
    return failed ? EXIT_FAILED : 0;
  });
}
