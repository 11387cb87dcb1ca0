// apply(): carry out a Plan against an Engine.
//
// Order: networks and volumes, then images, then removals, then services along
// depends_on. Each service's containers are created once its dependencies are
// created, and started once its dependencies meet their conditions
// (service_started / service_healthy / service_completed_successfully), so a
// failed condition leaves the dependent `created`. Engine calls are bounded by
// `parallel`. A failed step fails its dependents with a cause naming it; other
// branches go on. Level-based: whatever is left half done, the next diff sees.

import type { ContainerInfo, Engine, Labels } from '../engine/api.js';
import { LABEL } from '../engine/api.js';
import { TsstackError, isTsstackError } from '../util/errors.js';
import { createSpec, type DesiredState } from './desired.js';
import { IMAGE, INFRA, REMOVAL, REPAIR, SERVICE, type Action, type Plan } from './plan.js';

export type EventState = 'running' | 'waiting' | 'done' | 'failed' | 'skipped';

export interface ApplyEvent {
  resource: string;
  /** What is being done (`create`, `start`, `pull`, `wait healthy`…). */
  action: string;
  state: EventState;
  message?: string;
}

export interface ApplyOptions {
  /** Engine calls in flight at once (default 4), except stops and removals (below). */
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

class Semaphore {
  private waiters: (() => void)[] = [];
  private busy = 0;
  constructor(private readonly limit: number) {}
  async run<T>(f: () => Promise<T>): Promise<T> {
    if (this.busy >= this.limit) await new Promise<void>((r) => this.waiters.push(r));
    this.busy++;
    try {
      return await f();
    } finally {
      this.busy--;
      this.waiters.shift()?.();
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const REMOVE_PARALLEL = 32;

function messageOf(e: unknown): string {
  if (isTsstackError(e)) return e.message;
  return e instanceof Error ? e.message : String(e);
}

export async function apply(plan: Plan, engine: Engine, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const sem = new Semaphore(Math.max(1, opts.parallel ?? 4));
  const emit = (resource: string, action: string, state: EventState, message?: string) => opts.onEvent?.({ resource, action, state, message });
  const result: ApplyResult = { failed: [], warnings: [], touched: [] };
  const fail = (resource: string, e: unknown) => result.failed.push({ resource, message: messageOf(e), error: e });

  const step = async (a: Action, f: () => Promise<unknown>): Promise<boolean> => {
    emit(a.resource, a.type, 'running', a.cause);
    try {
      await sem.run(f);
      emit(a.resource, a.type, 'done');
      return true;
    } catch (e) {
      emit(a.resource, a.type, 'failed', messageOf(e));
      fail(a.resource, e);
      return false;
    }
  };

  // 0. repairs, all at once (the engine orders them: networks and firewall, then the DNS server)
  const repairs = plan.actions.filter((a) => REPAIR.has(a.type));
  if (repairs.length && engine.health) {
    for (const a of repairs) emit(a.resource, a.type, 'running', a.cause);
    try {
      await engine.health.repair(repairs.map((a) => a.fault ?? { resource: a.resource, cause: a.cause }));
      for (const a of repairs) emit(a.resource, a.type, 'done');
    } catch (e) {
      for (const a of repairs) emit(a.resource, a.type, 'failed', messageOf(e));
      fail(repairs.map((a) => a.resource).join(', '), e);
    }
  }

  // 1. networks, volumes, generated files
  const infraOk = new Map<string, boolean>();
  await Promise.all(plan.actions.filter((a) => INFRA.has(a.type)).map(async (a) => {
    const ok = await step(a, async () => {
      if (a.type === 'create-network') await engine.networks.create(a.network!.spec);
      else await engine.volumes.create(a.volume!.name, a.volume!.labels);
    });
    infraOk.set(a.type === 'create-network' ? a.networkName! : a.volumeName!, ok);
  }));
  if (plan.desired?.files.length) {
    try {
      await engine.host.writeGeneratedFiles(plan.desired.files);
    } catch (e) {
      fail('files', e);
    }
  }

  // 2. images
  const imageOk = new Map<string, boolean>();
  await Promise.all(plan.actions.filter((a) => IMAGE.has(a.type)).map(async (a) => {
    const progress = (line: string) => opts.onProgress?.(a.resource, line);
    const ok = await step(a, async () => {
      if (a.type === 'pull') await engine.images.pull(a.image!, progress);
      else {
        const b = a.build!;
        const args: Record<string, string> = {};
        for (const [k, v] of Object.entries(b.args ?? {})) if (v !== null) args[k] = v;
        await engine.images.build({
          context: b.context, dockerfile: b.dockerfile, dockerfileInline: b.dockerfile_inline, args, target: b.target,
          labels: b.labels ?? {}, tags: [a.image!, ...(b.tags ?? [])], noCache: b.no_cache, network: b.network, onProgress: progress,
        });
      }
    });
    imageOk.set(a.image!, ok);
  }));

  // 3. removals (orphans, scale-down, down): highest replica first, frees names and ports. Stops are
  // not bounded by `parallel`: the monitors do the waiting, so N containers that use their whole grace
  // period take one grace period, as with docker compose, not N/parallel of them. Removals start once
  // every stop is over (no sandbox is still in use by a peer's `network_mode`), and together: the
  // network manager and the kernel tear their sandboxes down in batches.
  const removals = plan.actions.filter((a) => REMOVAL.has(a.type));
  const stopped = await Promise.all(removals.map(async (a) => {
    emit(a.resource, a.type, 'running', a.cause);
    try {
      return await stopForRemoval(engine, a.observed!, opts.stopTimeoutMs);
    } catch (e) {
      emit(a.resource, a.type, 'failed', messageOf(e));
      fail(a.resource, e);
      return undefined;
    }
  }));
  const removeSem = new Semaphore(Math.max(1, opts.removeParallel ?? REMOVE_PARALLEL));
  await Promise.all(removals.map(async (a, i) => {
    if (stopped[i] === undefined) return;
    try {
      if (stopped[i]) await removeSem.run(() => engine.containers.remove(a.observed!.id, { force: true }));
      emit(a.resource, a.type, 'done');
    } catch (e) {
      emit(a.resource, a.type, 'failed', messageOf(e));
      fail(a.resource, e);
    }
  }));

  // 4. services along the graph
  const desired = plan.desired;
  if (!desired) {
    await runDownActions(plan, engine, step);
    return result;
  }
  const actionsBy = new Map<string, Action[]>();
  for (const a of plan.actions) if (SERVICE.has(a.type)) actionsBy.set(a.service!, [...(actionsBy.get(a.service!) ?? []), a]);

  type Gate = { created: Promise<void>; started: Promise<void> };
  const gates = new Map<string, Gate>();
  const blockedBy = (s: string) => new TsstackError('RUNTIME', `not started: dependency ${s} failed`);
  for (const s of plan.order) {
    const svc = desired.services[s];
    const mine = actionsBy.get(s) ?? [];
    let createdResolve!: () => void;
    let createdReject!: (e: unknown) => void;
    const created = new Promise<void>((res, rej) => { createdResolve = res; createdReject = rej; });
    created.catch(() => {});
    const depNames = Object.keys(svc.dependsOn).filter((d) => plan.order.includes(d)).sort();
    const started = (async () => {
      try {
        for (const d of depNames) {
          try {
            await gates.get(d)!.created;
          } catch {
            if (svc.dependsOn[d].required !== false) throw blockedBy(d);
          }
        }
      } catch (e) {
        createdReject(e);
        throw e;
      }
      // Create (or replace) this service's containers.
      const made: { a: Action; info?: ContainerInfo }[] = [];
      let createFailed: unknown;
      await Promise.all(mine.map(async (a) => {
        if (a.type === 'start' || a.type === 'restart') {
          made.push({ a, info: a.observed });
          return;
        }
        const missing = missingInputs(a, infraOk, imageOk);
        if (missing) {
          emit(a.resource, a.type, 'skipped', missing);
          fail(a.resource, new TsstackError('RUNTIME', missing));
          createFailed ??= new TsstackError('RUNTIME', missing);
          return;
        }
        emit(a.resource, a.type, 'running', a.cause);
        try {
          const info = await sem.run(async () => {
            if (a.type === 'recreate' && a.observed) await removeContainer(engine, a.observed, opts.stopTimeoutMs);
            await ensureBindSources(engine, a);
            return engine.containers.create(createSpec(plan.project, a.container!, svc, opts.labels));
          });
          made.push({ a, info });
          result.touched.push(a.resource);
          emit(a.resource, a.type, 'done');
        } catch (e) {
          emit(a.resource, a.type, 'failed', messageOf(e));
          fail(a.resource, e);
          createFailed ??= e;
        }
      }));
      if (createFailed) {
        createdReject(createFailed);
        throw createFailed;
      }
      createdResolve();
      if (opts.noStart || made.length === 0) return;
      // Wait for dependencies' conditions before starting.
      for (const d of depNames) {
        const dep = svc.dependsOn[d];
        try {
          await gates.get(d)!.started.catch(() => { throw blockedBy(d); });
          await waitCondition(engine, desired, plan.project, d, dep.condition, opts, (m) => emit(`service:${s}`, `wait ${d}`, 'waiting', m));
        } catch (e) {
          if (dep.required === false) {
            const w = `optional dependency "${d}" failed to start: ${messageOf(e)}`;
            result.warnings.push(w);
            continue;
          }
          for (const { a } of made) {
            emit(a.resource, 'start', 'skipped', `dependency ${d}: ${messageOf(e)}`);
          }
          throw e;
        }
      }
      let startFailed: unknown;
      await Promise.all(made.sort((x, y) => x.a.container!.number - y.a.container!.number).map(async ({ a, info }) => {
        if (!info) return;
        emit(a.resource, 'start', 'running');
        try {
          await sem.run(async () => {
            if (a.type === 'restart') await engine.containers.stop(info.id, opts.stopTimeoutMs);
            await engine.containers.start(info.id);
          });
          if (a.type === 'start' || a.type === 'restart') result.touched.push(a.resource);
          emit(a.resource, 'start', 'done');
        } catch (e) {
          emit(a.resource, 'start', 'failed', messageOf(e));
          fail(a.resource, e);
          startFailed ??= e;
        }
      }));
      if (startFailed) throw startFailed;
    })();
    started.catch(() => {});
    gates.set(s, { created, started });
  }
  const outcomes = await Promise.allSettled([...gates.values()].map((g) => g.started));
  // Services that failed only because a dependency did: say so once, naming the cause.
  [...gates.keys()].forEach((s, i) => {
    const o = outcomes[i];
    if (o.status === 'rejected' && !result.failed.some((f) => f.resource.startsWith(`service:${s}:`))) {
      fail(`service:${s}`, o.reason);
    }
  });
  return result;
}

async function runDownActions(plan: Plan, engine: Engine, step: (a: Action, f: () => Promise<unknown>) => Promise<boolean>): Promise<void> {
  for (const a of plan.actions.filter((x) => x.type === 'remove-network')) await step(a, () => engine.networks.remove(a.networkName!));
  await Promise.all(plan.actions.filter((x) => x.type === 'remove-volume').map((a) => step(a, () => engine.volumes.remove(a.volumeName!))));
}

function missingInputs(a: Action, infraOk: Map<string, boolean>, imageOk: Map<string, boolean>): string | undefined {
  const c = a.container!;
  if (imageOk.get(c.config.image) === false) return `image ${c.config.image} could not be had`;
  if (!c.config.imageId) return `image ${c.config.image} is not present`;
  for (const n of Object.keys(c.config.networks)) if (infraOk.get(n) === false) return `network ${n} could not be created`;
  for (const m of c.config.volumes) if (m.type === 'volume' && infraOk.get(m.source) === false) return `volume ${m.source} could not be created`;
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
  opts: Pick<ApplyOptions, 'conditionTimeoutMs' | 'pollMs'>, onWait?: (m: string) => void,
): Promise<void> {
  const deadline = Date.now() + (opts.conditionTimeoutMs ?? 120_000);
  const poll = opts.pollMs ?? 200;
  const svc = desired.services[service];
  let said = false;
  for (;;) {
    const cs = (await engine.containers.list({ [LABEL.project]: project, [LABEL.service]: service })).filter((c) => c.labels[LABEL.oneoff] !== 'True');
    const verdict = judge(cs, condition, svc?.replicas ?? 1);
    if (verdict === true) return;
    if (typeof verdict === 'string') throw new TsstackError('RUNTIME', verdict, { hint: condition === 'service_healthy' ? `see \`tsstack logs ${service}\` and the service's healthcheck` : `see \`tsstack logs ${service}\`` });
    if (Date.now() > deadline) throw new TsstackError('RUNTIME', `timed out waiting for ${service} to meet ${condition}`);
    if (!said) {
      onWait?.(`waiting for ${service} (${condition})`);
      said = true;
    }
    await sleep(poll);
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
