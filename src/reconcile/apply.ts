// apply(): carry out a Plan against an Engine by running its steps (steps.ts)
// on the executor (executor.ts).
//
// Order: networks and volumes, then images, then removals, then services along
// depends_on. Each service's containers are created once its dependencies are
// created, and started once its dependencies meet their conditions
// (service_started / service_healthy / service_completed_successfully), so a
// failed condition leaves the dependent `created`. Engine calls are bounded by
// `parallel`. A failed step fails its dependents with a cause naming it; other
// branches go on. Level-based: whatever is left half done, the next diff sees.
//
// Here each step becomes an engine call and its events; what a step waits for
// is the graph's business, not this file's.

import type { ContainerInfo, Engine, Labels } from '../engine/api.js';
import { LABEL } from '../engine/api.js';
import { TsstackError, isTsstackError } from '../util/errors.js';
import { createSpec, type DesiredState } from './desired.js';
import { execute, type ExecNode, type Outcome, type RunContext } from './executor.js';
import type { Action, Plan } from './plan.js';
import { createdId, planSteps, startedId, waitId, type Step } from './steps.js';
import { pause } from '../util/pause.js';
import { phase } from '../util/phase-trace.js';

export type EventState = 'running' | 'waiting' | 'done' | 'failed' | 'skipped';

export interface ApplyEvent {
  resource: string;
  /** What is being done (`create`, `start`, `pull`, `wait healthy`…). */
  action: string;
  state: EventState;
  message?: string;
}

export interface ApplyOptions {
  /**
   * Engine calls in flight at once, except stops and removals (below). Default: 4 for pulls, builds and
   * the rest, 32 for container creates and starts, which mostly wait on the kernel, the disk and their
   * monitors while the one JavaScript thread is free (a given `parallel` bounds them too). With 16, the
   * last creates of an `up` of 20 waited for the first starts: 32 took an `up` of 20 from ~590 to ~530 ms
   * and of 200 from 4.8 to 4.3 s here (interleaved).
   */
  parallel?: number;
  /**
   * Container removals in flight at once (default 32). They wait on the kernel (namespaces, mounts)
   * more than they work, and removed together they share its teardown work. Stops are not bounded.
   */
  removeParallel?: number;
  onEvent?: (e: ApplyEvent) => void;
  /** How long to wait for one dependency condition (default 120 s). */
  conditionTimeoutMs?: number;
  /** Poll interval while waiting on a condition (default 200 ms). */
  pollMs?: number;
  /** Grace period when stopping containers to replace or remove them. */
  stopTimeoutMs?: number;
  /** Create but do not start. */
  noStart?: boolean;
  /** Labels added to every container created. */
  labels?: Labels;
  onProgress?: (resource: string, line: string) => void;
  /** Stops starting steps (those running finish); the rest are reported as not done. */
  signal?: AbortSignal;
}

export interface ApplyFailure {
  resource: string;
  message: string;
  error?: unknown;
}

export interface ApplyResult {
  failed: ApplyFailure[];
  warnings: string[];
  /** Containers created or started, by resource id. */
  touched: string[];
}

const REMOVE_PARALLEL = 32;
const CONTAINER_PARALLEL = 32;
/** The pool of container creates and starts (bounded by CONTAINER_PARALLEL unless `parallel` is given). */
const CONTAINER = 'container';
/** Pools (executor.ts): `default` is bounded by `parallel`, `remove` by `removeParallel`; `free` is not bounded. */
const FREE = 'free';

function messageOf(e: unknown): string {
  if (isTsstackError(e)) return e.message;
  return e instanceof Error ? e.message : String(e);
}

const blockedBy = (s: string) => new TsstackError('RUNTIME', `not started: dependency ${s} failed`);

/** A step that failed after saying so itself (events and failure already recorded). */
class Reported extends Error {}

export async function apply(plan: Plan, engine: Engine, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const emit = (resource: string, action: string, state: EventState, message?: string) => opts.onEvent?.({ resource, action, state, message });
  const result: ApplyResult = { failed: [], warnings: [], touched: [] };
  const fail = (resource: string, e: unknown) => result.failed.push({ resource, message: messageOf(e), error: e });
  const steps = planSteps(plan, { noStart: !!(opts.noStart || plan.noStart) });
  const byId = new Map(steps.map((s) => [s.id, s]));
  const seen = new Map<string, Outcome>();
  const starting = new Set(steps.filter((s) => s.op === 'start').map((s) => s.resource));
  const run = new StepRunner(plan, engine, opts, emit, fail, result, (id) => seen.get(id), starting);
  const nodes: ExecNode[] = steps.map((s) => ({ id: s.id, dependsOn: s.dependsOn, after: s.after, pool: poolOf(s), run: (ctx) => run.step(s, ctx) }));
  await execute(nodes, {
    parallel: opts.parallel ?? 4, pools: { remove: opts.removeParallel ?? REMOVE_PARALLEL, [CONTAINER]: opts.parallel ?? CONTAINER_PARALLEL }, keepGoing: true, signal: opts.signal,
    onSettle: (o) => {
      seen.set(o.id, o);
      if (o.state === 'skipped') run.skipped(byId.get(o.id)!, o, byId);
    },
  });
  if (plan.desired && !opts.signal?.aborted) run.serviceFailures(plan.order, plan.desired); // interrupted: not done is not failed
  await run.prepared;
  return result;
}

function poolOf(s: Step): string {
  if (s.op === 'repair' || s.op === 'files' || s.op === 'wait' || s.op === 'created' || s.op === 'started' || s.op === 'over') return FREE;
  const a = s.actions[0];
  // stops of removals are not bounded: the monitors do the waiting, so N containers that use their
  // whole grace period take one grace period, as with docker compose
  if (s.op === 'stop' && (a.type === 'remove' || a.type === 'remove-orphan')) return FREE;
  if (s.op === 'remove' && (a.type === 'remove' || a.type === 'remove-orphan')) return 'remove';
  if (s.op === 'create' || s.op === 'start') return CONTAINER;
  return 'default';
}

/** Each step's engine calls, events and failures. */
class StepRunner {
  /** Networks, volumes and images that could not be had (`network:<name>`, `volume:<name>`, `image:<ref>`). */
  private readonly lost = new Set<string>();

  constructor(
    private readonly plan: Plan,
    private readonly engine: Engine,
    private readonly opts: ApplyOptions,
    private readonly emit: (resource: string, action: string, state: EventState, message?: string) => void,
    private readonly fail: (resource: string, e: unknown) => void,
    private readonly result: ApplyResult,
    private readonly outcome: (id: string) => Outcome | undefined,
    /** The resources this apply starts (a create of one of them is followed by its start). */
    private readonly starting: ReadonlySet<string> = new Set(),
  ) {}

  private startsNext(a: Action): boolean {
    return this.starting.has(a.resource);
  }

  async step(s: Step, ctx: RunContext): Promise<unknown> {
    try {
      return await this.do(s, ctx);
    } catch (e) {
      const a = s.actions[0];
      if (s.op === 'create-network') this.lost.add(`network:${a.networkName}`);
      if (s.op === 'create-volume') this.lost.add(`volume:${a.volumeName}`);
      if (s.op === 'pull' || s.op === 'build') this.lost.add(`image:${a.image}`);
      throw e;
    }
  }

  /** prepareDown's work, once begun (apply() awaits its end before it returns). */
  prepared?: Promise<void>;
  private underWay?: Promise<void>;

  /**
   * `down`, as its first removal begins: once every stop succeeded, the engine may delete the links of all
   * the removed containers and of the networks going after them in one kernel batch (Engine.prepareRemoval).
   * The removals begin once that deletion is under way (its request first: it is the longest wait of a
   * `down`, ~30 ms of the kernel's), and go on while it lasts.
   */
  private prepareDown(ctx: RunContext): Promise<void> {
    if (this.underWay) return this.underWay;
    this.underWay = Promise.resolve();
    if (this.plan.desired || !this.engine.prepareRemoval) return this.underWay;
    const removals = this.plan.actions.filter((x) => x.type === 'remove' || x.type === 'remove-orphan');
    if (!removals.every((x) => ctx.outcome(`stop ${x.resource}`)?.state === 'done')) return this.underWay; // one may still run
    const networks = this.plan.actions.filter((x) => x.type === 'remove-network').map((x) => x.networkName!);
    const started = this.engine.prepareRemoval(this.plan.project, removals.map((x) => x.observed!.id), networks);
    // a link it could not delete at all is a failure of the `down` (the removals do everything else without it)
    this.prepared = started.then((s) => s.done).catch((e) => this.fail('links', e));
    return (this.underWay = started.then(() => undefined, () => undefined));
  }

  /** A plain step: running, then done or failed (and the failure recorded). */
  private async simple(a: Action, f: () => Promise<unknown>): Promise<unknown> {
    this.emit(a.resource, a.type, 'running', a.cause);
    try {
      const v = await f();
      this.emit(a.resource, a.type, 'done');
      return v;
    } catch (e) {
      this.emit(a.resource, a.type, 'failed', messageOf(e));
      this.fail(a.resource, e);
      throw new Reported(messageOf(e));
    }
  }

  /** Runs `f` for action `a` saying `verb` failed (and recording it) when it throws. */
  private async guarded<T>(a: Action, verb: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      this.emit(a.resource, verb, 'failed', messageOf(e));
      this.fail(a.resource, e);
      throw new Reported(messageOf(e));
    }
  }

  private async do(s: Step, ctx: RunContext): Promise<unknown> {
    const { engine, opts, emit } = this;
    const a = s.actions[0];
    switch (s.op) {
      case 'repair': {
        // all at once (the engine orders them: networks and firewall, then the DNS server)
        if (!engine.health) return;
        for (const r of s.actions) emit(r.resource, r.type, 'running', r.cause);
        try {
          await engine.health.repair(s.actions.map((r) => r.fault ?? { resource: r.resource, cause: r.cause }));
          for (const r of s.actions) emit(r.resource, r.type, 'done');
        } catch (e) {
          for (const r of s.actions) emit(r.resource, r.type, 'failed', messageOf(e));
          this.fail(s.resource, e);
          throw new Reported(messageOf(e));
        }
        return;
      }
      case 'create-network':
        return this.simple(a, async () => { await engine.networks.create(a.network!.spec); phase(() => `network ${a.networkName}: created`); });
      case 'create-volume':
        return this.simple(a, () => engine.volumes.create(a.volume!.name, a.volume!.labels));
      case 'files':
        try {
          return await engine.host.writeGeneratedFiles(this.plan.desired!.files);
        } catch (e) {
          this.fail('files', e);
          throw new Reported(messageOf(e));
        }
      case 'pull':
      case 'build':
        return this.simple(a, () => this.image(a));
      case 'remove-network':
        return this.simple(a, () => engine.networks.remove(a.networkName!));
      case 'remove-volume':
        return this.simple(a, () => engine.volumes.remove(a.volumeName!));
      case 'created':
      case 'started':
      case 'over':
        return;
      case 'wait':
        return this.wait(s, ctx);
      case 'stop':
        if (a.type === 'remove' || a.type === 'remove-orphan') {
          emit(a.resource, a.type, 'running', a.cause);
          return this.guarded(a, a.type, () => stopForRemoval(engine, a.observed!, opts.stopTimeoutMs));
        }
        if (a.type === 'restart') {
          emit(a.resource, 'start', 'running');
          return this.guarded(a, 'start', () => engine.containers.stop(a.observed!.id, opts.stopTimeoutMs));
        }
        // the container a recreate replaces
        this.checkInputs(a);
        emit(a.resource, a.type, 'running', a.cause);
        return this.guarded(a, a.type, () => stopForRemoval(engine, a.observed!, opts.stopTimeoutMs));
      case 'remove': {
        const stopped = ctx.outcome(s.dependsOn[0]);
        const gone = stopped?.state === 'done' && stopped.value === false;
        if (a.type === 'recreate') return gone ? undefined : this.guarded(a, a.type, () => engine.containers.remove(a.observed!.id, { force: true }));
        return this.guarded(a, a.type, async () => {
          if (!gone) {
            await this.prepareDown(ctx);
            await engine.containers.remove(a.observed!.id, { force: true });
          }
          emit(a.resource, a.type, 'done');
        });
      }
      case 'create': {
        if (a.type === 'create') {
          this.checkInputs(a);
          emit(a.resource, a.type, 'running', a.cause);
        }
        const svc = this.plan.desired!.services[a.service!];
        const info = await this.guarded(a, a.type, async () => {
          await ensureBindSources(engine, a);
          return engine.containers.create(createSpec(this.plan.project, a.container!, svc, opts.labels), { startSoon: this.startsNext(a) });
        });
        this.result.touched.push(a.resource);
        emit(a.resource, a.type, 'done');
        return info;
      }
      case 'start': {
        const made = a.type === 'create' || a.type === 'recreate' ? ctx.outcome(`create ${a.resource}`) : undefined;
        const info = made?.state === 'done' ? (made.value as ContainerInfo) : a.observed!;
        if (a.type !== 'restart') emit(a.resource, 'start', 'running');
        await this.guarded(a, 'start', () => engine.containers.start(info.id));
        if (a.type === 'start' || a.type === 'restart') this.result.touched.push(a.resource);
        emit(a.resource, 'start', 'done');
        return;
      }
    }
  }

  private image(a: Action): Promise<unknown> {
    const progress = (line: string) => this.opts.onProgress?.(a.resource, line);
    if (a.type === 'pull') return this.engine.images.pull(a.image!, progress);
    const b = a.build!;
    const args: Record<string, string> = {};
    for (const [k, v] of Object.entries(b.args ?? {})) if (v !== null) args[k] = v;
    return this.engine.images.build({
      context: b.context, dockerfile: b.dockerfile, dockerfileInline: b.dockerfile_inline, args, target: b.target,
      labels: b.labels ?? {}, tags: [a.image!, ...(b.tags ?? [])], noCache: b.no_cache, network: b.network, onProgress: progress,
    });
  }

  /** A container is made only from inputs that are there: its image, networks and volumes. */
  private checkInputs(a: Action): void {
    const missing = missingInputs(a, this.lost);
    if (!missing) return;
    this.emit(a.resource, a.type, 'skipped', missing);
    this.fail(a.resource, new TsstackError('RUNTIME', missing));
    throw new Reported(missing);
  }

  /** Waits for a dependency's condition; an optional one's failure is a warning. */
  private async wait(s: Step, ctx: RunContext): Promise<void> {
    const w = s.wait!;
    const warn = (e: unknown) => this.result.warnings.push(`optional dependency "${w.dependency}" failed to start: ${messageOf(e)}`);
    if (w.optional && ctx.outcome(startedId(w.dependency))?.state !== 'done') return void warn(blockedBy(w.dependency));
    try {
      await waitCondition(this.engine, this.plan.desired!, this.plan.project, w.dependency, w.condition, this.opts,
        (m) => this.emit(`service:${w.service}`, `wait ${w.dependency}`, 'waiting', m), ctx.signal);
    } catch (e) {
      if (!w.optional || ctx.signal.aborted) throw e;
      warn(e);
    }
  }

  /** A container's start skipped because a dependency's wait failed: say which, as the start's event. */
  skipped(s: Step, o: Extract<Outcome, { state: 'skipped' }>, byId: Map<string, Step>): void {
    const first = s.op === 'start' ? !s.dependsOn.some((d) => byId.get(d)?.op === 'stop') : s.op === 'stop' && s.actions[0]?.type === 'restart';
    if (!first) return;
    let cause = byId.get(o.because);
    // back along the chain of waits to the first that did not pass
    for (;;) {
      const w = cause?.op === 'wait' ? this.outcome(cause.id) : undefined;
      if (w?.state !== 'skipped' || byId.get(w.because)?.op !== 'wait') break;
      cause = byId.get(w.because);
    }
    if (cause?.op !== 'wait' || !cause.wait) return;
    const w = this.outcome(cause.id);
    const why = w?.state === 'failed' ? messageOf(w.error) : messageOf(blockedBy(cause.wait.dependency));
    this.emit(s.resource, 'start', 'skipped', `dependency ${cause.wait.dependency}: ${why}`);
  }

  /** Services that failed only because a dependency did: say so once, naming the cause. */
  serviceFailures(order: string[], desired: DesiredState): void {
    for (const s of order) {
      if (this.outcome(startedId(s))?.state === 'done' || this.result.failed.some((f) => f.resource.startsWith(`service:${s}:`))) continue;
      const reason = this.reason(s, desired);
      if (reason) this.fail(`service:${s}`, reason);
    }
  }

  private reason(s: string, desired: DesiredState): unknown {
    const outcome = this.outcome;
    const svc = desired.services[s];
    const deps = Object.keys(svc.dependsOn).filter((d) => this.plan.order.includes(d)).sort();
    if (outcome(createdId(s))?.state !== 'done') {
      const d = deps.find((x) => svc.dependsOn[x].required !== false && outcome(createdId(x))?.state !== 'done');
      return d === undefined ? undefined : blockedBy(d);
    }
    for (const d of deps) {
      const o = outcome(waitId(d, svc.dependsOn[d].condition, s));
      if (o?.state === 'failed') return o.error;
      if (svc.dependsOn[d].required !== false && outcome(startedId(d))?.state !== 'done') return blockedBy(d);
    }
    return undefined;
  }
}

function missingInputs(a: Action, lost: Set<string>): string | undefined {
  const c = a.container!;
  if (lost.has(`image:${c.config.image}`)) return `image ${c.config.image} could not be had`;
  if (!c.config.imageId) return `image ${c.config.image} is not present`;
  for (const n of Object.keys(c.config.networks)) if (lost.has(`network:${n}`)) return `network ${n} could not be created`;
  for (const m of c.config.volumes) if (m.type === 'volume' && lost.has(`volume:${m.source}`)) return `volume ${m.source} could not be created`;
  return undefined;
}

/** Bind sources the stack asks to create (`create_host_path`, compose's short syntax) are made as directories, by the engine. */
async function ensureBindSources(engine: Engine, a: Action): Promise<void> {
  // a secret's missing file is an error, not a dir
  const paths = a.container!.config.volumes.flatMap((m) => (m.type === 'bind' && !m.file ? [m.source] : []));
  if (paths.length) await engine.host.makeBindSources(paths);
}

export async function removeContainer(engine: Engine, c: ContainerInfo, stopTimeoutMs?: number): Promise<void> {
  if (await stopForRemoval(engine, c, stopTimeoutMs)) await engine.containers.remove(c.id, { force: true });
}

/** Stops the container if it runs; false when it is already gone (nothing to remove). */
async function stopForRemoval(engine: Engine, c: ContainerInfo, stopTimeoutMs?: number): Promise<boolean> {
  const cur = await engine.containers.inspect(c.id);
  if (!cur) return false;
  if (cur.status === 'running' || cur.status === 'restarting' || cur.status === 'paused') await engine.containers.stop(c.id, stopTimeoutMs);
  return true;
}

/** Resolves when every container of `service` meets `condition`; rejects with the reason it cannot. */
export async function waitCondition(
  engine: Engine, desired: DesiredState, project: string, service: string, condition: string,
  opts: Pick<ApplyOptions, 'conditionTimeoutMs' | 'pollMs'>, onWait?: (m: string) => void, signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + (opts.conditionTimeoutMs ?? 120_000);
  const poll = opts.pollMs ?? 200;
  const svc = desired.services[service];
  let said = false;
  for (;;) {
    signal?.throwIfAborted(); // interrupted: a wait is given up (the executor counts it as not done)
    const cs = (await engine.containers.list({ [LABEL.project]: project, [LABEL.service]: service })).filter((c) => c.labels[LABEL.oneoff] !== 'True');
    const verdict = judge(cs, condition, svc?.replicas ?? 1);
    if (verdict === true) return;
    if (typeof verdict === 'string') throw new TsstackError('RUNTIME', verdict, { hint: condition === 'service_healthy' ? `see \`tsstack logs ${service}\` and the service's healthcheck` : `see \`tsstack logs ${service}\`` });
    if (Date.now() > deadline) throw new TsstackError('RUNTIME', `timed out waiting for ${service} to meet ${condition}`);
    if (!said) {
      onWait?.(`waiting for ${service} (${condition})`);
      said = true;
    }
    await pause(poll, signal);
  }
}

/** true = met, string = can never be met (why), false = not yet. */
export function judge(cs: ContainerInfo[], condition: string, replicas: number): true | false | string {
  if (replicas === 0) return true;
  if (cs.length === 0) return false;
  for (const c of cs) {
    if (condition === 'service_completed_successfully') {
      if (c.status === 'exited' || c.status === 'dead') {
        if (c.exitCode !== 0) return `service ${c.labels[LABEL.service]} didn't complete successfully: container ${c.name} exited with code ${c.exitCode}`;
      } else return false;
    } else if (condition === 'service_healthy') {
      if (c.health === 'unhealthy') return `container ${c.name} is unhealthy`;
      if ((c.status === 'exited' || c.status === 'dead') && c.health !== 'healthy') return `container ${c.name} exited (${c.exitCode ?? '?'}) before it was healthy`;
      if (c.status === 'running' && c.health === undefined) return `container ${c.name} has no healthcheck configured, so service_healthy can never be met`;
      if (c.health !== 'healthy') return false;
    } else if (condition === 'ready') {
      // `up --wait`: running (and healthy when it has a healthcheck), or completed with 0.
      if (c.health === 'unhealthy') return `container ${c.name} is unhealthy`;
      if (c.status === 'exited' || c.status === 'dead') {
        if (c.exitCode !== 0) return `container ${c.name} exited with code ${c.exitCode ?? '?'}`;
      } else if (c.status !== 'running' || (c.health !== undefined && c.health !== 'healthy')) return false;
    } else {
      if (c.status === 'created') return false;
    }
  }
  return true;
}
