// A Plan's steps: the graph apply() runs (pure). Each action of the plan becomes
// one or more steps — a recreate is stop → remove → create → start, a restart
// stop → start — joined by edges of two strengths (executor.ts): `dependsOn`
// (only if those succeeded) and `after` (once those are over, whatever the outcome).
//
// Phases follow one another with `after` edges: repairs; networks and volumes;
// the generated files; images; removals (every stop, then the removals); then the
// services along depends_on. Per service two milestones: `created service:s`
// (its containers made, and those of the services it requires) and `started
// service:s`. A service's containers are made once what it requires is created,
// and started once each dependency met its condition: one `wait` step per
// dependency, in name order, each after the one before (so the first that fails
// ends the waiting). An optional dependency (`required: false`) is waited for
// whatever became of it; its wait never fails (apply turns that into a warning).

import type { DependsOnCondition } from '../model/types.js';
import type { Action, Plan } from './plan.js';

export type StepOp =
  | 'repair' | 'create-network' | 'create-volume' | 'files' | 'pull' | 'build'
  | 'stop' | 'remove' | 'create' | 'start' | 'wait' | 'created' | 'started'
  | 'remove-network' | 'remove-volume'
  /** A milestone: every step of a group is over (so N×M edges between groups are N+M). */
  | 'over';

export interface WaitFor {
  /** The service that waits. */
  service: string;
  dependency: string;
  condition: DependsOnCondition;
  optional: boolean;
}

export interface Step {
  /** `<op> <resource>`; a wait is `wait <dependency> <condition> for <service>`. */
  id: string;
  op: StepOp;
  resource: string;
  /** The plan's actions this step carries out (all repairs are one step; milestones and files have none). */
  actions: Action[];
  dependsOn: string[];
  after: string[];
  wait?: WaitFor;
}

export const CONDITION_WORD: Record<DependsOnCondition, string> = {
  service_started: 'started',
  service_healthy: 'healthy',
  service_completed_successfully: 'completed',
};

export const createdId = (s: string) => `created service:${s}`;
export const startedId = (s: string) => `started service:${s}`;
export const waitId = (dependency: string, condition: DependsOnCondition, service: string) => `wait ${dependency} ${CONDITION_WORD[condition]} for service:${service}`;

export function planSteps(plan: Plan, opts: { noStart?: boolean } = {}): Step[] {
  const steps: Step[] = [];
  const add = (op: StepOp, resource: string, actions: Action[], dependsOn: string[] = [], after: string[] = [], id = `${op} ${resource}`): Step => {
    const s: Step = { id, op, resource, actions, dependsOn, after };
    steps.push(s);
    return s;
  };
  const of = (...types: string[]) => plan.actions.filter((a) => types.includes(a.type));
  let before: string[] = []; // the previous phase's step (or its milestone), which the next one comes after
  const over = (made: Step[], name: string): string[] => (made.length > 1 ? [add('over', name, [], [], made.map((s) => s.id)).id] : made.map((s) => s.id));
  const phase = (made: Step[], name: string) => { if (made.length) before = over(made, name); };

  const repairs = of('repair');
  if (repairs.length) phase([add('repair', repairs.map((a) => a.resource).join(', '), repairs, [], [], 'repair')], 'repairs');
  phase(of('create-network', 'create-volume').map((a) => add(a.type as StepOp, a.resource, [a], [], before)), 'networks and volumes');
  if (plan.desired?.files.length) phase([add('files', 'files', [], [], before)], 'files');
  phase(of('pull', 'build').map((a) => add(a.type as StepOp, a.resource, [a], [], before)), 'images');
  const removals = of('remove', 'remove-orphan');
  const stops = removals.map((a) => add('stop', a.resource, [a], [], before));
  // removals begin once every stop is over: no sandbox is still in use by a peer's `network_mode`
  const stopped = over(stops, 'stops');
  phase(removals.map((a, i) => add('remove', a.resource, [a], [stops[i].id], stopped.filter((id) => id !== stops[i].id))), 'removals');

  if (!plan.desired) {
    let last: string[] = before;
    const nets = of('remove-network').map((a) => {
      const s = add('remove-network', a.resource, [a], [], last);
      last = [s.id];
      return s;
    });
    phase(nets, 'networks');
    of('remove-volume').forEach((a) => add('remove-volume', a.resource, [a], [], before));
    return steps;
  }

  const desired = plan.desired;
  const num = (a: Action) => a.container?.number ?? 0;
  // each service's container actions, and the services in the plan, looked up once (not per service: a
  // plan of thousands of services spent most of its time in these scans)
  const byService = new Map<string, Action[]>();
  for (const a of plan.actions) {
    if (a.service === undefined || !(a.type === 'create' || a.type === 'recreate' || a.type === 'start' || a.type === 'restart')) continue;
    let list = byService.get(a.service);
    if (!list) byService.set(a.service, (list = []));
    list.push(a);
  }
  const ordered = new Set(plan.order);
  for (const s of plan.order) {
    const svc = desired.services[s];
    const mine = byService.get(s) ?? [];
    const deps = Object.keys(svc.dependsOn).filter((d) => ordered.has(d)).sort();
    const required = deps.filter((d) => svc.dependsOn[d].required !== false);
    const optional = deps.filter((d) => svc.dependsOn[d].required === false);
    const gate = required.map(createdId);
    const made: Step[] = [];
    for (const a of mine) {
      if (a.type === 'recreate') {
        const stop = add('stop', a.resource, [a], gate, [...optional.map(createdId), ...before]);
        const rm = add('remove', a.resource, [a], [stop.id]);
        made.push(add('create', a.resource, [a], [rm.id]));
      } else if (a.type === 'create') {
        made.push(add('create', a.resource, [a], gate, [...optional.map(createdId), ...before]));
      }
    }
    // after the phases before it too: a kept container is started (or restarted) only once repairs, images and removals are over
    const created = add('created', `service:${s}`, [], [...made.map((m) => m.id), ...gate], [...optional.map(createdId), ...before]);
    if (opts.noStart || mine.length === 0) {
      add('started', `service:${s}`, [], [created.id]);
      continue;
    }
    let last: string | undefined;
    for (const d of deps) {
      const optionalDep = svc.dependsOn[d].required === false;
      const condition = svc.dependsOn[d].condition;
      const w = add('wait', `service:${s}`, [], [created.id, ...(last ? [last] : []), ...(optionalDep ? [] : [startedId(d)])], optionalDep ? [startedId(d)] : [],
        waitId(d, condition, s));
      w.wait = { service: s, dependency: d, condition, optional: optionalDep };
      last = w.id;
    }
    const ready = [created.id, ...(last ? [last] : [])];
    const starts = [...mine].sort((x, y) => num(x) - num(y)).map((a) => {
      if (a.type !== 'restart') return add('start', a.resource, [a], ready);
      const stop = add('stop', a.resource, [a], ready);
      return add('start', a.resource, [a], [stop.id]);
    });
    add('started', `service:${s}`, [], [...ready, ...starts.map((x) => x.id)]); // the last wait vouches for the ones before
  }
  // Starts come once every create is over (Compose v2 also creates all, then starts): made side by side,
  // the creates share one batch of connects and one of DNS names, and the starts' runtimes do not take
  // the CPU the remaining creates wait for. Interleaved, an `up -d` of 20 took 0.95 of the time (24
  // rounds) and 0.90 of the CPU with it. A create never waits for a start, so this makes no cycle.
  const creates = steps.filter((x) => x.op === 'create'), starts = steps.filter((x) => x.op === 'start');
  if (creates.length > 1 && starts.length) {
    const createsOver = over(creates, 'creates');
    for (const x of starts) x.after = [...x.after, ...createsOver];
  }
  return steps;
}

/**
 * What an action waits for, in words, for the plan's text: when it starts a
 * container, the conditions its service waits for (`db healthy`, `cache started
 * (optional)`); else the creation of what its service depends on (`db created`).
 */
export function actionEdges(steps: Step[], a: Action): string[] {
  const ix = stepIndex(steps);
  if (ix.started.has(a)) {
    return (ix.waits.get(a.service ?? '') ?? [])
      .map((x) => `${x.wait!.dependency} ${CONDITION_WORD[x.wait!.condition]}${x.wait!.optional ? ' (optional)' : ''}`);
  }
  const created = ix.created.get(`service:${a.service}`);
  if (!created || !ix.createdBy.has(a)) return [];
  const word = (id: string, optional: boolean) => `${id.slice('created service:'.length)} created${optional ? ' (optional)' : ''}`;
  return [
    ...created.dependsOn.filter((id) => id.startsWith('created ')).map((id) => word(id, false)),
    ...created.after.filter((id) => id.startsWith('created ')).map((id) => word(id, true)),
  ];
}

interface StepIndex {
  /** Actions a start step carries out, and those a create step does. */
  started: Set<Action>;
  createdBy: Set<Action>;
  /** Each service's wait steps in order, and its `created` milestone by resource. */
  waits: Map<string, Step[]>;
  created: Map<string, Step>;
}

const stepIndexes = new WeakMap<Step[], StepIndex>();

/** What actionEdges looks up, made once per graph: looked up by scanning, the edges of every action grew as the square of the plan. */
function stepIndex(steps: Step[]): StepIndex {
  let ix = stepIndexes.get(steps);
  if (ix) return ix;
  ix = { started: new Set(), createdBy: new Set(), waits: new Map(), created: new Map() };
  for (const x of steps) {
    if (x.op === 'start') for (const a of x.actions) ix.started.add(a);
    else if (x.op === 'create') for (const a of x.actions) ix.createdBy.add(a);
    else if (x.op === 'created') { if (!ix.created.has(x.resource)) ix.created.set(x.resource, x); }
    else if (x.op === 'wait' && x.wait) {
      let list = ix.waits.get(x.wait.service);
      if (!list) ix.waits.set(x.wait.service, (list = []));
      list.push(x);
    }
  }
  stepIndexes.set(steps, ix);
  return ix;
}

