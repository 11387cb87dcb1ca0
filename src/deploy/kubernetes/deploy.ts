// The steps of `deploy --to kubernetes` over a ClusterApi: plan (a server-side
// dry run per object, then the diff), apply (in dependency order, stopping at
// the first failure and saying what was applied), prune, remove and wait. The
// decisions are apply-plan.ts's and rollout.ts's; this only sequences requests.

import { applyOrder, formatPlan, MANAGED_KINDS, planObject, projectSelector, pruneSelection, ref, type ObjectPlan } from './apply-plan.js';
import { clusterError, type Where } from './cluster-errors.js';
import type { ClusterApi } from './cluster.js';
import { readiness, WAITED_KINDS } from './rollout.js';
import type { K8sObject } from './types.js';
import type { StackModel } from '../../model/types.js';
import { TsstackError } from '../../util/errors.js';

export interface Say {
  out(line: string): void;
  err(line: string): void;
}

export interface Target {
  cluster: ClusterApi;
  project: string;
  namespace: string;
}

const where = (t: Target, extra: Partial<Where> = {}): Where => ({ server: t.cluster.server, context: t.cluster.context, namespace: t.namespace, ...extra });

/** Fails with NOT_FOUND (exit 3) when the namespace is not there: checked before anything is sent. */
export async function checkNamespace(t: Target): Promise<void> {
  let exists: boolean;
  try {
    exists = await t.cluster.namespaceExists(t.namespace);
  } catch (e) {
    throw clusterError(e, where(t));
  }
  if (!exists) {
    throw new TsstackError('NOT_FOUND', `namespace ${JSON.stringify(t.namespace)} does not exist in the cluster of context ${t.cluster.context}`, {
      hint: `create it (kubectl create namespace ${t.namespace}) or choose another with --namespace`,
    });
  }
}

/** The project's live objects of every kind tsstack renders (by its labels; pruneSelection checks them again). */
export async function liveObjects(t: Target): Promise<K8sObject[]> {
  const out: K8sObject[] = [];
  for (const k of MANAGED_KINDS) {
    try {
      out.push(...(await t.cluster.list(k.apiVersion, k.kind, t.namespace, projectSelector(t.project))));
    } catch (e) {
      throw clusterError(e, where(t, { object: `${k.kind} list` }));
    }
  }
  return out;
}

/** `--plan`: what applying would do, per object and field; changes nothing (dry runs and reads only). */
export async function planDeploy(t: Target, model: StackModel, objects: K8sObject[]): Promise<ObjectPlan[]> {
  const plans: ObjectPlan[] = [];
  const conflicts: TsstackError[] = [];
  for (const o of applyOrder(objects, model)) {
    try {
      const live = await t.cluster.get(o);
      const dry = await t.cluster.apply(o, true);
      plans.push(planObject(o, live, dry));
    } catch (e) {
      const err = clusterError(e, where(t, { object: ref(o) }));
      if (err.code !== 'CONFLICT') throw err;
      conflicts.push(err); // every conflict is worth knowing before the first is resolved
    }
  }
  for (const p of pruneSelection(t.project, objects, await liveObjects(t))) if (!holdsData(p)) plans.push({ action: 'prune', object: ref(p), changes: [] });
  if (conflicts.length === 1) throw conflicts[0]!;
  if (conflicts.length) throw new TsstackError('CONFLICT', `${conflicts.length} objects have fields owned by another field manager`, { details: conflicts.flatMap((c) => [c.message, ...(c.details ?? []).map((d) => `  ${d}`)]), hint: conflicts[0]!.hint });
  return plans;
}

export function printPlan(say: Say, t: Target, plans: ObjectPlan[]): void {
  if (plans.every((p) => p.action === 'unchanged')) say.out(`no changes: ${t.project} in namespace ${t.namespace} is up to date`);
  else for (const l of formatPlan(plans)) say.out(l);
}

/** Apply in dependency order; the first failure stops it, naming what was applied. Then prune. Returns the applied objects as the server wrote them. */
export async function applyDeploy(t: Target, model: StackModel, objects: K8sObject[], say: Say): Promise<K8sObject[]> {
  const applied: K8sObject[] = [];
  for (const o of applyOrder(objects, model)) {
    try {
      applied.push(await t.cluster.apply(o, false));
    } catch (e) {
      throw clusterError(e, where(t, { object: ref(o), applied: applied.map((a) => ref(a)) }));
    }
    say.err(`applied ${ref(o)}`);
  }
  for (const p of pruneSelection(t.project, objects, await liveObjects(t))) {
    if (holdsData(p)) {
      say.err(`kept ${ref(p)}: no longer in the stack, but it holds data (kubectl delete ${p.kind.toLowerCase()} ${p.metadata.name} removes it)`);
      continue;
    }
    try {
      await t.cluster.delete(p);
    } catch (e) {
      throw clusterError(e, where(t, { object: ref(p) }));
    }
    say.err(`pruned ${ref(p)} (no longer in the stack)`);
  }
  return applied;
}

/**
 * A PersistentVolumeClaim holds a volume's data: a deploy never prunes one, and `--rm` keeps them unless
 * asked (`--volumes`), as `down` keeps named volumes without `-v`.
 */
function holdsData(o: K8sObject): boolean {
  return o.kind === 'PersistentVolumeClaim' && o.apiVersion === 'v1';
}

/** `--rm`: every object of the project (by its labels), workloads first; nothing else. Returns what was removed. */
export async function removeProject(t: Target, say: Say, opts: { volumes?: boolean } = {}): Promise<string[]> {
  const removed: string[] = [];
  const kept: string[] = [];
  for (const o of pruneSelection(t.project, [], await liveObjects(t))) {
    if (holdsData(o) && !opts.volumes) {
      kept.push(ref(o));
      continue;
    }
    try {
      await t.cluster.delete(o);
    } catch (e) {
      throw clusterError(e, where(t, { object: ref(o) }));
    }
    removed.push(ref(o));
    say.err(`removed ${ref(o)}`);
  }
  if (kept.length) say.err(`kept ${kept.join(', ')} (the data of the project's volumes; --rm --volumes deletes them)`);
  else if (!removed.length) say.err(`nothing of ${t.project} in namespace ${t.namespace}`);
  return removed;
}

export interface WaitOptions {
  timeoutMs: number;
  pollMs: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** `--wait`: until every workload is ready (Deployments and StatefulSets available, Jobs complete), a failed Job or the timeout. */
export async function waitRollout(t: Target, objects: K8sObject[], o: WaitOptions, say: Say): Promise<void> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = now() + o.timeoutMs;
  const pending = objects.filter((x) => WAITED_KINDS.has(x.kind));
  const said = new Map<string, string>();
  while (pending.length) {
    for (let i = 0; i < pending.length; i++) {
      const w = pending[i]!;
      let live: K8sObject | undefined;
      try {
        live = await t.cluster.get(w);
      } catch (e) {
        throw clusterError(e, where(t, { object: ref(w) }));
      }
      if (!live) throw new TsstackError('REMOTE', `${ref(w)} disappeared while waiting for it`, { hint: 'another client removed it; deploy again' });
      const r = readiness(live);
      if (r.failed) throw new TsstackError('REMOTE', `${ref(w)}: ${r.failed}`, { hint: `kubectl -n ${t.namespace} describe ${w.kind.toLowerCase()} ${w.metadata.name}` });
      if (r.ready) {
        say.err(`ready ${ref(w)}`);
        pending.splice(i--, 1);
      } else if (said.get(ref(w)) !== r.waiting) {
        said.set(ref(w), r.waiting ?? '');
        say.err(`waiting for ${ref(w)}: ${r.waiting}`);
      }
    }
    if (!pending.length) break;
    if (now() >= deadline) {
      throw new TsstackError('REMOTE', `not ready after ${Math.round(o.timeoutMs / 1000)}s: ${pending.map((w) => `${ref(w)} (${said.get(ref(w)) ?? 'waiting'})`).join(', ')}`, {
        hint: `the objects are applied; look at them with kubectl -n ${t.namespace} get pods,events`,
      });
    }
    await sleep(o.pollMs);
  }
}
