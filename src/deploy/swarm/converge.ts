// Applying a plan to a Swarm: create networks, secrets and configs; create or
// update services level by level along depends_on, waiting until each level's
// tasks run (healthy where they have a healthcheck) before its dependents;
// then remove what the stack no longer has. Services are only ever updated in
// place, so a failed update leaves (or, through update_config's rollback,
// brings back) the previous version running.

import type { SwarmAuthConfig } from './registry-auth.js';
import { TsstackError } from '../../util/errors.js';
import { canonical } from './map.js';
import { deployOrder, describe } from './diff.js';
import { apiMessage, type SwarmEngine, type Task } from './engine.js';
import { PROJECT_LABEL, type Action, type Desired, type Json, type JsonObject, type Plan } from './types.js';

export interface ConvergeOptions {
  log: (line: string) => void;
  /** How long a service may take to run its tasks, ms. */
  timeoutMs: number;
  /** --with-registry-auth: service key → the credentials its create/update carries. */
  auths?: ReadonlyMap<string, SwarmAuthConfig>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The parts of a container spec a task must share with its service to count as the current version. */
function versionOf(cs: Json | undefined): string {
  const c = (cs ?? {}) as JsonObject;
  const names = (l: Json | undefined, k: string) => ((l ?? []) as JsonObject[]).map((x) => x[k]);
  return canonical([c.Image, c.Env, c.Args, c.Command, names(c.Secrets, 'SecretName'), names(c.Configs, 'ConfigName'), c.Mounts, c.Labels, c.User, c.Dir]);
}

const FAILED = new Set(['failed', 'rejected', 'orphaned']);

/** Whether the service runs its desired number of tasks, all of its current spec. */
export function allRunning(spec: JsonObject, tasks: Task[]): boolean {
  const tt = (spec.TaskTemplate ?? {}) as JsonObject;
  const want = versionOf(tt.ContainerSpec);
  const mode = spec.Mode as JsonObject;
  // a task that may end (restart: no / on-failure) has done its part once it completed
  const condition = (tt.RestartPolicy as JsonObject | undefined)?.Condition ?? 'any';
  const ended = (t: Task) => condition !== 'any' && t.Status.State === 'complete';
  const isCurrent = (t: Task) => versionOf((t.Spec as JsonObject | undefined)?.ContainerSpec) === want;
  const current = tasks.filter((t) => isCurrent(t) && (t.DesiredState === 'running' || ended(t)));
  const stale = tasks.filter((t) => t.DesiredState === 'running' && !isCurrent(t));
  // global: a task per eligible node, made all at once by the orchestrator (none yet = not made yet)
  const replicas = mode.Replicated ? Number((mode.Replicated as JsonObject).Replicas ?? 1) : Math.max(1, current.length);
  return current.filter((t) => t.Status.State === 'running' || ended(t)).length >= replicas && !stale.length;
}

/** Waits until the service runs its desired number of tasks of its current spec; REMOTE error when it fails or rolls back. */
export async function waitRunning(eng: SwarmEngine, id: string, key: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr = '';
  let settled = 0;
  for (;;) {
    const svc = await eng.service(id);
    if (!svc) throw new TsstackError('REMOTE', `service ${key} disappeared from the Swarm while tsstack waited for it`);
    const us = svc.UpdateStatus?.State;
    const tasks = await eng.tasks(id);
    for (const t of tasks) if (FAILED.has(t.Status.State) && t.Status.Err) lastErr = t.Status.Err;
    if (us === 'rollback_completed' || us === 'rollback_paused' || us === 'paused') {
      // say "the previous version runs" only once it does (bounded: the error is the news)
      if (us === 'rollback_completed' && !settled && Date.now() < deadline) {
        settled = Date.now() + 30_000 < deadline ? Date.now() + 30_000 : deadline;
      }
      if (us === 'rollback_completed' && settled && Date.now() < settled && !allRunning(svc.Spec, tasks)) {
        await sleep(500);
        continue;
      }
      throw new TsstackError('REMOTE', `the update of service ${key} failed on the Swarm${svc.UpdateStatus?.Message ? ` (${svc.UpdateStatus.Message})` : ''}${us === 'rollback_completed' ? '; Swarm rolled it back: the previous version runs' : ''}`, {
        details: lastErr ? [`last task error: ${lastErr}`] : [], hint: `tsstack ps --swarm and tsstack logs --swarm ${key} show why`,
      });
    }
    if (us !== 'updating' && us !== 'rollback_started' && allRunning(svc.Spec, tasks)) return;
    if (Date.now() > deadline) {
      throw new TsstackError('REMOTE', `service ${key} did not get its tasks running within ${Math.round(timeoutMs / 1000)}s`, {
        details: lastErr ? [`last task error: ${lastErr}`] : [], hint: `tsstack ps --swarm shows its tasks; TSSTACK_DEPLOY_TIMEOUT (seconds) waits longer`,
      });
    }
    await sleep(500);
  }
}

/** Runs `plan` against the Swarm. */
export async function converge(eng: SwarmEngine, desired: Desired, plan: Plan, o: ConvergeOptions): Promise<void> {
  const d = eng.docker;
  const by = <K extends Action['kind']>(k: K) => plan.actions.filter((a): a is Extract<Action, { kind: K }> => a.kind === k);
  const step = async (a: Action, f: () => Promise<unknown>) => {
    o.log(describe(a));
    try {
      await f();
    } catch (e) {
      if (e instanceof TsstackError) throw e;
      throw eng.remote(`${describe(a)} failed`, e);
    }
  };
  for (const a of by('create-network')) await step(a, () => d.createNetwork(a.body as never));
  for (const a of plan.actions) {
    if (a.kind === 'create-secret') await step(a, () => d.createSecret(a.body));
    else if (a.kind === 'create-config') await step(a, () => d.createConfig(a.body));
  }

  // service specs name secrets, configs and networks by id
  const [secretIds, configIds, nets] = await Promise.all([eng.idsByName('secret'), eng.idsByName('config'), d.listNetworks()]);
  const netIds = new Map(nets.filter((n) => n.Scope === 'swarm').map((n) => [n.Name, n.Id]));
  const withIds = (spec: JsonObject): JsonObject => {
    const s = structuredClone(spec);
    const tt = s.TaskTemplate as JsonObject;
    const cs = tt.ContainerSpec as JsonObject;
    const need = (m: Map<string, string>, kind: string, name: string): string => {
      const id = m.get(name);
      if (!id) throw new TsstackError('REMOTE', `${kind} ${name} does not exist on the Swarm`, { hint: kind === 'network' ? 'create the external network (docker network create -d overlay --attachable NAME)' : `create the external ${kind} first` });
      return id;
    };
    for (const r of (cs.Secrets ?? []) as JsonObject[]) r.SecretID = need(secretIds, 'secret', String(r.SecretName));
    for (const r of (cs.Configs ?? []) as JsonObject[]) r.ConfigID = need(configIds, 'config', String(r.ConfigName));
    for (const n of (tt.Networks ?? []) as JsonObject[]) n.Target = need(netIds, 'network', String(n.Target));
    return s;
  };

  const acts = new Map<string, Extract<Action, { kind: 'create-service' | 'update-service' }>>();
  for (const a of plan.actions) if (a.kind === 'create-service' || a.kind === 'update-service') acts.set(a.service.key, a);
  const ids = new Map<string, string>();
  const waited = new Set<string>();
  const hasDependents = (k: string) => desired.services.some((s) => s.dependsOn.includes(k));
  for (const level of deployOrder(desired.services)) {
    for (const key of level) {
      const a = acts.get(key);
      if (!a) continue;
      await step(a, async () => {
        if (a.kind === 'create-service') {
          const created = await d.createService(o.auths?.get(key) as never, withIds(a.service.spec) as never) as unknown as { id?: string; ID?: string };
          ids.set(key, created.id ?? created.ID!);
        } else {
          await d.getService(a.id).update({ authconfig: o.auths?.get(key), _query: { version: a.version }, _body: withIds(a.service.spec) } as never);
          ids.set(key, a.id);
        }
      });
    }
    // dependents start only when what they depend on runs
    for (const key of level) {
      if (!ids.has(key) || !hasDependents(key)) continue;
      o.log(`waiting for ${key} to run (its dependents are next)`);
      await waitRunning(eng, ids.get(key)!, key, o.timeoutMs);
      waited.add(key);
    }
  }
  for (const [key, id] of ids) if (!waited.has(key)) await waitRunning(eng, id, key, o.timeoutMs);

  const removedServices = by('remove-service');
  for (const a of removedServices) await step(a, () => d.getService(a.id).remove());
  if (removedServices.length) await waitTasksGone(eng, removedServices.map((a) => a.id), Math.min(o.timeoutMs, 60_000));
  await removeObjects(eng, plan.actions, o);
}

/** Secrets, configs, networks of `actions` (remove-*), each retried while tasks still let go of it. */
async function removeObjects(eng: SwarmEngine, actions: Action[], o: ConvergeOptions): Promise<void> {
  const d = eng.docker;
  for (const a of actions) {
    if (a.kind !== 'remove-secret' && a.kind !== 'remove-config' && a.kind !== 'remove-network') continue;
    o.log(describe(a));
    const deadline = Date.now() + o.timeoutMs;
    for (;;) {
      try {
        if (a.kind === 'remove-secret') await d.getSecret(a.id).remove();
        else if (a.kind === 'remove-config') await d.getConfig(a.id).remove();
        else {
          await d.getNetwork(a.id).remove();
          // the manager lists a removed overlay network a little longer, while its own copy goes
          const until = Date.now() + 15_000;
          while (Date.now() < until && (await d.listNetworks({ filters: JSON.stringify({ id: [a.id] }) })).some((n) => n.Id === a.id)) await sleep(250);
        }
        break;
      } catch (e) {
        const status = (e as { statusCode?: number }).statusCode;
        if (status === 404) break;
        // in use by a task that is still shutting down (the Swarm answers 400/403/409/500 depending on the object)
        if (Date.now() < deadline && /in use|active endpoints|is being used/i.test(apiMessage(e))) {
          await sleep(500);
          continue;
        }
        throw eng.remote(`${describe(a)} failed`, e);
      }
    }
  }
}

const GONE = new Set(['shutdown', 'complete', 'failed', 'rejected', 'orphaned', 'remove']);

async function waitTasksGone(eng: SwarmEngine, serviceIds: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = (await Promise.all(serviceIds.map((id) => eng.tasks(id)))).flat().filter((t: Task) => !GONE.has(t.Status.State));
    if (!left.length) return;
    if (Date.now() > deadline) return;
    await sleep(500);
  }
}

/** `--rm`: every service, network, secret and config with the project's label (volumes stay, as on one host). */
export async function removeProject(eng: SwarmEngine, project: string, o: ConvergeOptions & { plan?: boolean }): Promise<number> {
  const live = await eng.observe(project);
  const actions: Action[] = [
    ...live.services.map((s) => ({ kind: 'remove-service' as const, name: s.name, id: s.id })),
    ...live.secrets.map((s) => ({ kind: 'remove-secret' as const, name: s.name, id: s.id })),
    ...live.configs.map((s) => ({ kind: 'remove-config' as const, name: s.name, id: s.id })),
    ...live.networks.filter((n) => n.labels[PROJECT_LABEL] === project).map((n) => ({ kind: 'remove-network' as const, name: n.name, id: n.id })),
  ];
  if (!actions.length) {
    o.log(`nothing of project ${project} on the Swarm`);
    return 0;
  }
  if (o.plan) {
    for (const a of actions) o.log(describe(a));
    return 0;
  }
  for (const a of actions) {
    if (a.kind !== 'remove-service') continue;
    o.log(describe(a));
    try {
      await eng.docker.getService(a.id).remove();
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode !== 404) throw eng.remote(`${describe(a)} failed`, e);
    }
  }
  // networks are free only when the tasks' containers are gone on every node
  await waitTasksGone(eng, actions.filter((a) => a.kind === 'remove-service').map((a) => (a as { id: string }).id), Math.min(o.timeoutMs, 60_000));
  await removeObjects(eng, actions, o);
  return 0;
}
