// A short-lived child of `tsstack ui` (child.ts) that does one thing needing
// the engine, the stack loader or the reconciler, so the dashboard's long-lived
// server never loads them: `describe` (the project and the stack's outline),
// `plan`, `apply` (`up -d` under the project's lock), or `restart`/`stop`/`start`
// of one container. Run as `node worker.js '<request JSON>'`; answers are JSON
// lines on stdout; an error is rendered on stderr as the CLI's, with its exit code.

import { Context, defaultIo, type GlobalOptions } from '../cli/context.js';
import { exitCodeFor, renderError } from '../cli/errors.js';
import { LABEL } from '../engine/api.js';
import { TsstackError } from '../util/errors.js';
import { localBackend } from './local.js';
import type { ModelOutline } from './view.js';

export type WorkerOp = 'describe' | 'plan' | 'apply' | 'restart' | 'stop' | 'start';
export interface WorkerRequest { g: GlobalOptions; op: WorkerOp; id?: string }
/** One line of a worker's answer. */
export type WorkerLine =
  | { describe: { project: string; root: string; runRoot: string; hasStack: boolean } }
  | { outline: ModelOutline | null }
  | { plan: import('./hub.js').PlanView }
  | { applyPlan: string }
  | { done: { failed: string[]; warnings: string[] } }
  | { ok: true };

const out = (l: WorkerLine) => new Promise<void>((r) => process.stdout.write(`${JSON.stringify(l)}\n`, () => r()));

async function serve(req: WorkerRequest, ctx: Context): Promise<void> {
  const model = await ctx.maybeModel();
  if (req.op === 'describe') {
    return out({ describe: { project: model?.name ?? (await ctx.projectName()), root: ctx.paths.root, runRoot: ctx.paths.runRoot, hasStack: !!model } });
  }
  const engine = await ctx.openEngine();
  const { reconcileOpts } = await import('../cli/commands/up.js');
  const backend = localBackend(ctx, engine, model ? await reconcileOpts(ctx, model, [], {}) : {}, !!model);
  if (req.op === 'plan') {
    await out({ outline: (await backend.outline()) ?? null });
    return out({ plan: await backend.plan() });
  }
  if (req.op === 'apply') {
    let done: WorkerLine | undefined;
    await backend.apply({ plan: (text) => void out({ applyPlan: text }), done: (r) => { done = { done: r }; } });
    return out(done ?? { done: { failed: ['the reconcile did not report'], warnings: [] } });
  }
  // a container of this project only (the server checked; the worker does not take its word for it)
  const project = model?.name ?? (await ctx.projectName());
  const c = await engine.containers.inspect(req.id ?? '');
  if (!c || c.labels[LABEL.project] !== project) throw new TsstackError('NOT_FOUND', `no container ${req.id} in project ${project}`);
  await backend[req.op](c);
  return out({ ok: true });
}

async function main(): Promise<number> {
  const req = JSON.parse(process.argv[2] ?? '{}') as WorkerRequest;
  const ctx = new Context(req.g ?? {}, defaultIo());
  try {
    await serve(req, ctx);
    return 0;
  } catch (e) {
    process.stderr.write(`${renderError(e, ctx.debug).replace(/\n$/, '')}\n`);
    return exitCodeFor(e);
  } finally {
    await ctx.close().catch(() => {});
  }
}

process.exitCode = await main();
