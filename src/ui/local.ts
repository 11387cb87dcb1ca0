// What the dashboard asks that needs the engine, the stack loader and the
// reconciler, done in the process that has them: the watch's own (`up --watch
// --ui`), or a short-lived child of `tsstack ui` (worker.ts), whose long-lived
// server holds none of them. The plan is `tsstack plan`'s; apply is `up -d`'s
// reconcile under the project's lock.

import type { ContainerInfo, Engine } from '../engine/api.js';
import type { StackModel } from '../model/types.js';
import type { Plan } from '../reconcile/plan.js';
import type { UpOptions } from '../reconcile/up.js';
import { Context } from '../cli/context.js';
import type { PlanView, ReconcileReport } from './hub.js';
import { outline, type ModelOutline } from './view.js';

/** The dashboard's calls that change or plan the stack. */
export interface Backend {
  /** What the view shows of the stack files now; undefined without one. */
  outline(): Promise<ModelOutline | undefined>;
  /** What `up` would change now. */
  plan(): Promise<PlanView>;
  /** `up -d`'s reconcile, reported as it goes. */
  apply(report: ReconcileReport): Promise<void>;
  restart(c: ContainerInfo): Promise<void>;
  stop(c: ContainerInfo): Promise<void>;
  start(c: ContainerInfo): Promise<void>;
}

/** `tsstack plan`'s text for a plan, with what each action waits for. */
export function planText(plan: Plan, project: string): string {
  return plan.empty ? `no changes: ${project} is up to date` : plan.lines({ edges: true }).join('\n');
}

export const NO_STACK_PLAN = 'no stack file here: the plan needs one (run `tsstack ui` where the stack file is, or with -f)';

/** The backend over an open engine: `upOptions` are the options of `up -d` (or of the watch that started it). */
export function localBackend(ctx: Context, engine: Engine, upOptions: UpOptions, hasStack: boolean): Backend {
  // a fresh load each time: the files may have changed since the last look
  const load = async (): Promise<StackModel | undefined> => (hasStack ? new Context(ctx.g, ctx.io).loadModel() : undefined);
  return {
    outline: async () => {
      const m = await load();
      return m && outline(m);
    },
    plan: async () => {
      const at = new Date().toISOString();
      const model = await load();
      if (!model) return { text: NO_STACK_PLAN, empty: true, warnings: [], problems: [], at };
      const { makePlan } = await import('../reconcile/up.js');
      const { preflight } = await import('../reconcile/preflight.js');
      const p = (await makePlan(engine, model, upOptions)).plan;
      return { text: planText(p, model.name), empty: p.empty, warnings: [...p.warnings], problems: (await preflight(p, engine, model)).map((x) => x.message), at };
    },
    apply: async (report) => {
      try {
        const model = await load();
        if (!model) throw new Error('no stack file: nothing to apply');
        const { up } = await import('../reconcile/up.js');
        const r = await ctx.locked(model.name, () => up(engine, model, { ...upOptions, onPlan: (p) => report.plan(planText(p, model.name)) }));
        report.done({ failed: r.result.failed.map((f) => `${f.resource}: ${f.message}`), warnings: [...r.result.warnings] });
      } catch (e) {
        report.done({ failed: [e instanceof Error ? e.message : String(e)], warnings: [] });
      }
    },
    restart: async (c) => {
      await engine.containers.stop(c.id);
      await engine.containers.start(c.id);
    },
    stop: (c) => engine.containers.stop(c.id),
    start: (c) => engine.containers.start(c.id),
  };
}
