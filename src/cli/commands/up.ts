// up, create, plan, down.

import type { Engine } from '../../engine/api.js';
import type { StackModel } from '../../model/types.js';
import type { ApplyResult } from '../../reconcile/apply.js';
import { TsstackError, isTsstackError } from '../../util/errors.js';
import { interruptibleChanges, type Context } from '../context.js';
import { EXIT, EXIT_FAILED, EXIT_INTERRUPTED, renderError } from '../errors.js';
import type { Progress } from '../render.js';
import type { ApplyEvent } from '../../reconcile/apply.js';
import type { Plan } from '../../reconcile/plan.js';
import type { UpOptions } from '../../reconcile/up.js';
import { phase } from '../../util/phase-trace.js';

export interface UpFlags {
  detach?: boolean;
  forceRecreate?: boolean;
  recreate?: boolean;
  deps?: boolean;
  start?: boolean;
  removeOrphans?: boolean;
  scale?: Record<string, number>;
  pull?: 'always' | 'missing' | 'never';
  build?: boolean;
  wait?: boolean;
  waitTimeout?: number;
  abortOnContainerExit?: boolean;
  abortOnContainerFailure?: boolean;
  exitCodeFrom?: string;
  timeout?: number;
  watch?: boolean;
  /** With --watch: Ctrl-C leaves the stack running. */
  keep?: boolean;
  /** `watch --no-up`: watch without reconciling first. */
  up?: boolean;
  format?: string;
  parallel?: number;
  detailedExitcode?: boolean;
  color?: boolean;
  logPrefix?: boolean;
  /** With --watch: serve the dashboard (`tsstack ui`) while watching; a port, or true for any free one. */
  ui?: boolean | string;
}

/** TSSTACK_PARALLEL: engine operations in flight at once (default: apply.ts, 4; 16 container creates and starts). */
function parallelFromEnv(ctx: Context): number | undefined {
  const n = Number(ctx.io.env.TSSTACK_PARALLEL);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

async function projectDirOf(ctx: Context, project: string): Promise<string> {
  const { projectDir } = await import('../../engine/engine.js');
  return projectDir(ctx.paths.root, project);
}

export async function reconcileOpts(ctx: Context, model: StackModel, services: string[], f: UpFlags) {
  const { projectLabels } = await import('../../reconcile/up.js');
  return {
    services,
    noDeps: f.deps === false,
    forceRecreate: f.forceRecreate,
    noRecreate: f.recreate === false,
    removeOrphans: f.removeOrphans,
    pull: f.pull,
    build: f.build,
    scale: f.scale,
    noStart: f.start === false,
    stopTimeoutMs: f.timeout !== undefined ? f.timeout * 1000 : undefined,
    parallel: f.parallel ?? parallelFromEnv(ctx),
    filesDir: await projectDirOf(ctx, model.name),
    env: ctx.io.env,
    runtime: ctx.g.runtime,
    labels: projectLabels(model),
  };
}

/** Renders apply failures; returns the exit status (0 when none). */
/** A command stopped by Ctrl-C between steps: what failed meanwhile, and how to go on. */
function reportInterrupted(ctx: Context, command: 'up' | 'down', r: ApplyResult): number {
  for (const w of r.warnings) ctx.io.err(`warning: ${w}`);
  for (const x of r.failed) ctx.io.err(`error: ${x.resource}: ${x.message}`);
  ctx.io.err(`${command}: interrupted; the steps under way were finished, the others not started. Run \`tsstack ${command}\` again to go on.`);
  return EXIT_INTERRUPTED;
}

function report(ctx: Context, r: ApplyResult): number {
  for (const w of r.warnings) ctx.io.err(`warning: ${w}`);
  if (!r.failed.length) return 0;
  const err = new TsstackError('RUNTIME', r.failed.length === 1 ? `${r.failed[0].resource}: ${r.failed[0].message}` : `${r.failed.length} steps failed`, {
    details: r.failed.length === 1 ? [] : r.failed.map((f) => `${f.resource}: ${f.message}`),
    hint: 'fix the cause and run `tsstack up` again: it continues from the state left behind',
  });
  ctx.io.err(renderError(err, ctx.debug));
  if (ctx.debug) for (const f of r.failed) if (f.error instanceof Error) ctx.io.err(f.error.stack ?? '');
  // Images that could not be had (nothing else was touched) keep their own status.
  if (r.failed.every((f) => isTsstackError(f.error) && f.error.code === 'IMAGE')) return EXIT.IMAGE;
  return EXIT_FAILED;
}

export async function runUp(ctx: Context, services: string[], f: UpFlags): Promise<number> {
  if (f.watch) (await import('../watch-host.js')).execForWatch(ctx.io.env);
  const model = await ctx.loadModelFor(services);
  for (const w of model.warnings ?? []) ctx.io.err(`warning: ${w.file}${w.line ? `:${w.line}` : ''}: ${w.path}: ${w.message}`);
  if (f.exitCodeFrom) {
    f.abortOnContainerExit = true;
    if (!(f.exitCodeFrom in model.services)) throw new TsstackError('USAGE', `--exit-code-from: no such service: ${f.exitCodeFrom}`);
  }
  const started = Date.now();
  // A detached `up` of a project recorded as converged, whose state files are
  // unchanged, is answered without opening the engine (converged.ts says why that is sound).
  const cache = convergedEligible(ctx, f) && (await ctx.rootsSafe()) ? await import('../converged.js') : undefined;
  const cacheInput = cache && { root: ctx.paths.root, runRoot: ctx.paths.runRoot, model, env: ctx.io.env, request: planRequest(ctx, services, f) };
  if (cache && cacheInput) {
    const hit = await cache.convergedOutcome(cacheInput);
    if (hit) {
      for (const w of hit.warnings) ctx.io.err(`warning: ${w}`);
      if (f.format === 'json') ctx.io.out(JSON.stringify({ plan: hit.plan, failed: [], warnings: hit.warnings }));
      else ctx.io.err(`up: ${model.name} is up to date (${Date.now() - started} ms)`);
      return 0;
    }
  }
  const stateBefore = await cache?.snapshot(ctx.paths.root, ctx.paths.runRoot);
  const engine = await ctx.openEngine();
  phase('up: engine open');
  const { up } = await import('../../reconcile/up.js');
  const { listrProgress, liveView, progressFor } = await import('../render.js');
  // On a terminal, listr2 draws the plan's actions live once the plan is known;
  // elsewhere, plain lines.
  const live = liveView(ctx.io) && f.format !== 'json';
  const Listr = live ? (await import('listr2')).Listr : undefined;
  let progress: Progress = Listr ? { event: () => {}, line: () => {}, done: () => {} } : progressFor(ctx.io, { quiet: f.format === 'json' });
  const opts = {
    ...(await reconcileOpts(ctx, model, services, f)),
    onEvent: (e: ApplyEvent) => progress.event(e),
    onProgress: (_r: string, l: string) => progress.line(l),
    onPlan: Listr ? (p: Plan) => { progress = listrProgress(Listr, ctx.io, p, { noStart: f.start === false }); } : undefined,
  };
  // Without the lock first: a converged stack is a consistent state, so an empty
  // plan read without it is the truth (a concurrent `up` mid-way shows as work
  // to do, and that path takes the lock and plans again).
  const { plan: quick, converged } = await unlockedPlan(engine, model, opts);
  phase(`up: planned without the lock (${quick.actions.length} actions)`);
  let interruptedAt = 0;
  const outcome = converged
    ? { plan: quick, result: { failed: [], warnings: [...quick.warnings], touched: [] } }
    : await ctx.locked(model.name, async () => {
      const changes = interruptibleChanges((l) => ctx.io.err(l));
      try {
        // the plan just made, unless something changed before the lock was had (planned again then)
        const before = cache && stateBefore !== undefined
          ? { plan: quick, unchanged: () => cache.unchangedSince(ctx.paths.root, ctx.paths.runRoot, stateBefore) }
          : undefined;
        return await up(engine, model, { ...opts, signal: changes.signal }, before);
      } finally {
        changes.dispose();
        await progress.done();
        if (changes.signal.aborted) interruptedAt = Date.now();
      }
    });
  phase('up: carried out');
  if (converged) await progress.done();
  if (converged && cache && cacheInput && stateBefore !== undefined) await cache.recordConverged(cacheInput, stateBefore, { warnings: [...quick.warnings], plan: quick.toJSON() });
  // A change that left the project converged is recorded too, so the first no-op `up` after it is the fast
  // path: planned once more here, with the modules loaded and the engine open (a plan that is not empty,
  // e.g. a container that exited already, records nothing).
  if (!converged && cache && cacheInput && !outcome.result.failed.length) {
    const before = await cache.settledSnapshot(ctx.paths.root, ctx.paths.runRoot);
    const again = await unlockedPlan(engine, model, { ...opts, onEvent: undefined, onProgress: undefined, onPlan: undefined });
    if (again.converged) await cache.recordConverged(cacheInput, before, { warnings: [...again.plan.warnings], plan: again.plan.toJSON() });
  }
  phase('up: recorded');
  if (interruptedAt) return reportInterrupted(ctx, 'up', outcome.result);
  const code = report(ctx, outcome.result);
  if (f.format === 'json') ctx.io.out(JSON.stringify({ plan: outcome.plan.toJSON(), failed: outcome.result.failed.map((x) => ({ resource: x.resource, message: x.message })), warnings: outcome.result.warnings }));
  else if (outcome.plan.empty) ctx.io.err(`up: ${model.name} is up to date (${Date.now() - started} ms)`);
  if (code) return code;
  const selected = outcome.plan.order;
  if (f.wait) return waitReady(ctx, engine, model, outcome.plan.desired!, selected, f);
  if (f.watch) {
    const { runWatch } = await import('../watch-host.js');
    const attached = !f.detach && f.start !== false;
    return runWatch(ctx, engine, model, opts, { logs: attached, stopOnInterrupt: attached && !f.keep, services: services.length ? selected : [], colour: f.color === false ? false : undefined, prefix: f.logPrefix !== false, ui: uiPort(f.ui) });
  }
  if (f.detach || f.start === false) return 0;
  const { attach } = await import('../attach.js');
  return attach(ctx, engine, model.name, selected, { colour: f.color === false ? false : undefined, prefix: f.logPrefix !== false, abortOnExit: !!f.abortOnContainerExit, abortOnFailure: !!f.abortOnContainerFailure, exitCodeFrom: f.exitCodeFrom, stopTimeoutMs: f.timeout !== undefined ? f.timeout * 1000 : undefined });
}

/**
 * The plan made without the lock, `converged` only when nothing is to be done: no action, no change a killed
 * command left half made (its intent sends `up` to the locked path, whose recovery finishes it), no problem.
 */
async function unlockedPlan(engine: Engine, model: StackModel, opts: UpOptions): Promise<{ plan: Plan; converged: boolean }> {
  const { makePlan } = await import('../../reconcile/up.js');
  const { preflight } = await import('../../reconcile/preflight.js');
  const plan = (await makePlan(engine, model, opts)).plan;
  return { plan, converged: plan.empty && !(await engine.pendingChanges(model.name)).length && !(await preflight(plan, engine, model)).length };
}

/**
 * Everything of the command line that shapes `up`'s plan (what reconcileOpts
 * reads), with defaults applied: the same request parsed by commander or by
 * main's quick path gives the same converged-cache key.
 */
function planRequest(ctx: Context, services: string[], f: UpFlags): Record<string, unknown> {
  return {
    services: [...services].sort(), start: f.start !== false, forceRecreate: !!f.forceRecreate, recreate: f.recreate !== false, deps: f.deps !== false,
    removeOrphans: !!f.removeOrphans, scale: f.scale ?? {}, pull: f.pull ?? null, build: !!f.build, timeout: f.timeout ?? null, parallel: f.parallel ?? null,
    format: f.format === 'json' ? 'json' : 'text', runtime: ctx.g.runtime ?? null,
  };
}

/** Only a detached, plain `up` (what the no-op fast path can answer), with the real engine and loader. */
function convergedEligible(ctx: Context, f: UpFlags): boolean {
  if (ctx.io.openEngine || ctx.io.loadStack || ctx.io.env.TSSTACK_NO_CACHE) return false;
  if (!(f.detach || f.start === false) || f.wait || f.watch || f.forceRecreate || f.build || f.pull === 'always') return false;
  return true;
}

/** `--wait`: every selected service running (healthy when it has a healthcheck) or completed with 0. */
async function waitReady(ctx: Context, engine: Engine, model: StackModel, desired: import('../../reconcile/desired.js').DesiredState, selected: string[], f: UpFlags): Promise<number> {
  const { waitCondition } = await import('../../reconcile/apply.js');
  const timeout = (f.waitTimeout ?? 300) * 1000;
  const failures: string[] = [];
  await Promise.all(selected.map(async (s) => {
    try {
      await waitCondition(engine, desired, model.name, s, 'ready', { conditionTimeoutMs: timeout });
    } catch (e) {
      failures.push(e instanceof Error ? e.message : String(e));
    }
  }));
  if (failures.length) {
    ctx.io.err(renderError(new TsstackError('RUNTIME', failures.length === 1 ? failures[0] : `${failures.length} services are not ready`, { details: failures.length > 1 ? failures.sort() : [], hint: 'see `tsstack ps -a` and `tsstack logs`' }), ctx.debug));
    return EXIT_FAILED;
  }
  ctx.io.err(`up: ${selected.length} service(s) ready`);
  return 0;
}

/**
 * `watch [services…]`: like `docker compose watch` — `up -d` (unless --no-up),
 * then watch; Ctrl-C stops watching and leaves the stack running.
 */
export async function runWatchCommand(ctx: Context, services: string[], f: UpFlags): Promise<number> {
  if (f.up !== false) return runUp(ctx, services, { ...f, watch: true, detach: true, keep: true });
  (await import('../watch-host.js')).execForWatch(ctx.io.env);
  const model = await ctx.loadModelFor(services);
  for (const w of model.warnings ?? []) ctx.io.err(`warning: ${w.file}${w.line ? `:${w.line}` : ''}: ${w.path}: ${w.message}`);
  const engine = await ctx.openEngine();
  const { runWatch } = await import('../watch-host.js');
  return runWatch(ctx, engine, model, await reconcileOpts(ctx, model, services, f), { logs: false, stopOnInterrupt: false, ui: uiPort(f.ui) });
}

/** `--ui [port]`: the dashboard's port (0: any free one), or undefined without the flag. */
function uiPort(v: boolean | string | undefined): { port: number } | undefined {
  if (v === undefined || v === false) return undefined;
  const port = v === true ? 0 : Number(v);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TsstackError('USAGE', `--ui: not a port: ${JSON.stringify(v)}`, { hint: 'give a port number, or --ui alone for any free port' });
  return { port };
}

/** `scale svc=N …`: set replica counts of the named services (their dependencies untouched). */
export async function runScale(ctx: Context, pairs: string[], f: UpFlags): Promise<number> {
  const scale: Record<string, number> = {};
  for (const p of pairs) {
    const m = /^([^=]+)=(\d+)$/.exec(p);
    if (!m) throw new TsstackError('USAGE', `scale expects SERVICE=NUM, got ${JSON.stringify(p)}`, { hint: 'for example: tsstack scale web=3 worker=2' });
    scale[m[1]] = Number(m[2]);
  }
  return runUp(ctx, Object.keys(scale), { ...f, scale, deps: false, detach: true });
}

export async function runCreate(ctx: Context, services: string[], f: UpFlags): Promise<number> {
  return runUp(ctx, services, { ...f, start: false, detach: true });
}

export async function runPlan(ctx: Context, services: string[], f: UpFlags): Promise<number> {
  const model = await ctx.loadModelFor(services);
  const engine = await ctx.openEngine();
  const { makePlan, problemsError } = await import('../../reconcile/up.js');
  const { preflight } = await import('../../reconcile/preflight.js');
  const { plan } = await makePlan(engine, model, await reconcileOpts(ctx, model, services, f));
  const problems = await preflight(plan, engine, model);
  if (f.format === 'json') {
    const steps = plan.steps.map((s) => ({ id: s.id, dependsOn: s.dependsOn, after: s.after }));
    ctx.io.out(JSON.stringify({ ...plan.toJSON(), problems: problems.map((p) => p.message), steps }, null, 2));
  } else {
    // one line per action, with what it waits for: `create service:web:1 (missing) after: db healthy`
    if (plan.empty) ctx.io.out(`no changes: ${model.name} is up to date`);
    else ctx.io.out(plan.lines({ edges: true }).join('\n'));
    for (const w of plan.warnings) ctx.io.err(`warning: ${w}`);
    if ((await engine.pendingChanges(model.name)).some((c) => c.dead)) ctx.io.err('note: an interrupted command left changes half made; `up` and `down` undo them first (a container half created is created anew)');
  }
  if (problems.length) throw problemsError(problems);
  return f.detailedExitcode && !plan.empty ? 2 : 0;
}

export interface DownFlags {
  volumes?: boolean;
  removeOrphans?: boolean;
  timeout?: number;
}

export async function runDown(ctx: Context, f: DownFlags): Promise<number> {
  const model = await ctx.maybeModel().catch((e) => {
    if (ctx.g.projectName) return undefined; // -p alone is enough to take a project down
    throw e;
  });
  const project = model?.name ?? (await ctx.projectName());
  const engine = await ctx.openEngine();
  const { observe } = await import('../../reconcile/observe.js');
  const { planDown } = await import('../../reconcile/diff.js');
  const { apply } = await import('../../reconcile/apply.js');
  const { recoverFirst } = await import('../recover-first.js');
  const result = await ctx.locked(project, async () => {
    // what a killed command left half made is found here (intents, mounts, temps), not only in the records
    await recoverFirst(ctx, engine, project);
    const observed = await observe(engine, project, { oneoff: true, volumes: model ? Object.values(model.volumes).filter((v) => !v.external).map((v) => v.name) : [] });
    const plan = planDown(observed, { volumes: f.volumes, removeOrphans: f.removeOrphans, services: model ? Object.keys(model.services) : undefined });
    for (const w of plan.warnings) ctx.io.err(`warning: ${w}`);
    if (plan.empty) ctx.io.err(`down: nothing to remove for project ${project}`);
    const { listrProgress, liveView, progressFor } = await import('../render.js');
    const progress = liveView(ctx.io) && !plan.empty ? listrProgress((await import('listr2')).Listr, ctx.io, plan) : progressFor(ctx.io);
    const changes = interruptibleChanges((l) => ctx.io.err(l));
    try {
      const r = await apply(plan, engine, { onEvent: progress.event, parallel: parallelFromEnv(ctx), stopTimeoutMs: f.timeout !== undefined ? f.timeout * 1000 : undefined, signal: changes.signal });
      if (!r.failed.length && !plan.warnings.length && !changes.signal.aborted) await engine.host.forgetProject(project);
      return { ...r, interrupted: changes.signal.aborted };
    } finally {
      changes.dispose();
      await progress.done();
    }
  });
  if (result.interrupted) return reportInterrupted(ctx, 'down', result);
  return report(ctx, result);
}

