// The whole of `up` and `plan`: observe → desired → diff → preflight → apply.
// Images come first; when any were pulled or built, the containers' configs are
// re-derived with the images' defaults and diffed again, so the plan applied to
// containers is always made from present images.

import type { Engine, Labels } from '../engine/api.js';
import type { StackModel } from '../model/types.js';
import { TsstackError } from '../util/errors.js';
import { apply, type ApplyOptions, type ApplyResult } from './apply.js';
import { desiredState, serviceImage, serviceNetworks, type DesiredOptions } from './desired.js';
import { diff, type DiffOptions } from './diff.js';
import { observe, type ObservedState } from './observe.js';
import { IMAGE, Plan, type Problem } from './plan.js';
import { preflight } from './preflight.js';
import { phase } from '../util/phase-trace.js';

export interface UpOptions extends DiffOptions, DesiredOptions, ApplyOptions {
  onPlan?: (plan: Plan) => void;
}

/**
 * A plan made with these options before the lock was taken, with a check that nothing it observed has
 * changed since (the engine's state fingerprint, as the converged cache compares it): `up` carries it out
 * instead of planning again when recovery found nothing to do and the check holds.
 */
export interface PlanMadeBefore {
  plan: Plan;
  unchanged(): Promise<boolean>;
}

export async function observeFor(engine: Engine, model: StackModel, inferNetworks = false): Promise<ObservedState> {
  const images = [...new Set(Object.entries(model.services).map(([n, s]) => serviceImage(model.name, n, s)))].sort();
  const networks = new Set<string>();
  for (const s of Object.values(model.services)) for (const k of serviceNetworks(s)) networks.add(model.networks[k]?.name ?? `${model.name}_${k}`);
  const volumes = Object.values(model.volumes).map((v) => v.name);
  return observe(engine, model.name, { images, networks: [...networks].sort(), volumes: volumes.sort(), inferNetworks, health: true });
}

/** Observe, derive, diff. Cheap when nothing is to be done; anything to do is planned from a full observation. */
export async function makePlan(engine: Engine, model: StackModel, opts: UpOptions = {}): Promise<{ plan: Plan; observed: ObservedState }> {
  let observed = await observeFor(engine, model, true);
  let plan = diff(desiredState(model, observed.images, opts), observed, opts);
  if (observed.inferredNetworks?.length && (!plan.empty || plan.problems.length)) {
    observed = await observeFor(engine, model, false);
    plan = diff(desiredState(model, observed.images, opts), observed, opts);
  }
  return { plan, observed };
}

/** One error for every problem found, its code from their kinds: a conflict wins, then all missing, all unchecked, else the stack. */
export function problemsError(problems: Problem[]): TsstackError {
  const all = (k: Problem['kind']) => problems.every((p) => p.kind === k);
  const code = problems.some((p) => p.kind === 'conflict') ? 'CONFLICT' : all('missing') ? 'NOT_FOUND' : all('unchecked') ? 'HOST' : 'SPEC';
  const messages = problems.map((p) => p.message);
  return new TsstackError(code,
    messages.length === 1 ? `${messages[0]}; nothing was changed` : `${messages.length} problems found; nothing was changed`,
    { details: messages.length === 1 ? [] : messages, hint: 'fix the problems listed and run the command again' });
}

export interface UpResult {
  plan: Plan;
  result: ApplyResult;
}

export async function up(engine: Engine, model: StackModel, opts: UpOptions = {}, before?: PlanMadeBefore): Promise<UpResult> {
  // under the project lock: first finish or undo what a killed command left, then plan from what is
  const recovered = await engine.recover(model.name);
  phase('up: recovered (locked)');
  // the plan made before the lock, if what it observed is what is now: made again, it would be the same
  const same = before && !recovered.done.length && !recovered.problems.length && (await before.unchanged());
  let plan = same ? before.plan : (await makePlan(engine, model, opts)).plan;
  opts.onPlan?.(plan);
  const problems = await preflight(plan, engine, model);
  if (problems.length) throw problemsError(problems);
  phase('up: planned and checked (locked)');
  const total: ApplyResult = { failed: [], warnings: [...plan.warnings, ...recovered.problems.map((p) => `cleaning up after an interrupted command: ${p}`)], touched: [] };
  const merge = (r: ApplyResult) => {
    total.failed.push(...r.failed);
    total.warnings.push(...r.warnings);
    total.touched.push(...r.touched);
  };
  if (plan.actions.some((a) => IMAGE.has(a.type))) {
    // Images first: pulling and building change nothing of the project, so an
    // image that cannot be had stops `up` before anything is touched.
    const first = new Plan(plan.project, plan.actions.filter((a) => IMAGE.has(a.type)), [], undefined);
    merge(await apply(first, engine, opts));
    if (total.failed.length) return { plan, result: total };
    // Re-derive the containers' configs with the images' defaults now known.
    plan = (await makePlan(engine, model, { ...opts, noImages: true })).plan;
    const problems2 = await preflight(plan, engine, model);
    if (problems2.length) throw problemsError(problems2);
  }
  merge(await apply(plan, engine, opts));
  return { plan, result: total };
}

export { projectLabels } from './desired.js';
