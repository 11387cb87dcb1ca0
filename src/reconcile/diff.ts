// diff(): desired vs observed → Plan. Pure: plain data in, plain data out.

import type { ContainerInfo, PullPolicy } from '../engine/api.js';
import { LABEL } from '../engine/api.js';
import type { ServiceSpec } from '../model/types.js';
import { changedFields } from './canonical.js';
import type { DesiredService, DesiredState } from './desired.js';
import { RLABEL, hashedConfig } from './desired.js';
import { topoOrder, withDependencies } from './graph.js';
import type { ObservedState } from './observe.js';
import { Plan, problem, type Action, type Problem } from './plan.js';

export interface DiffOptions {
  /** Services named on the command line; empty = all. */
  services?: string[];
  /** Do not add the named services' dependencies to the selection. */
  noDeps?: boolean;
  forceRecreate?: boolean;
  noRecreate?: boolean;
  removeOrphans?: boolean;
  /** `--pull`; overrides each service's pull_policy. */
  pull?: PullPolicy;
  /** `--build`: build images of services that have a build section, even if present. */
  build?: boolean;
  /** Do not start anything (`up --no-start`, `create`). */
  noStart?: boolean;
  /** Plan no pulls or builds (and so find no image problems): `up` re-plans this way once the images are had. */
  noImages?: boolean;
}

const RENAME = { imageId: 'image digest' };

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function dependencyMap(desired: DesiredState): Record<string, string[]> {
  const deps: Record<string, string[]> = {};
  for (const [n, s] of Object.entries(desired.services)) deps[n] = Object.keys(s.dependsOn).filter((d) => d in desired.services).sort();
  return deps;
}

export function diff(desired: DesiredState, observed: ObservedState, opts: DiffOptions = {}): Plan {
  const deps = dependencyMap(desired);
  const order = topoOrder(deps);
  const problems: Problem[] = [];
  const warnings: string[] = [];
  for (const n of opts.services ?? []) if (!(n in desired.services)) problems.push(problem('missing', `no such service: ${n}`));
  const selected = opts.services?.length
    ? opts.noDeps
      ? new Set(opts.services)
      : withDependencies(deps, opts.services)
    : new Set(order);
  const selOrder = order.filter((s) => selected.has(s));

  // What the host lost under running containers is remade first, from the records (observe says what and why).
  const repairs: Action[] = (observed.faults ?? []).map((f) => ({ type: 'repair', resource: f.resource, cause: f.cause, fault: f }));
  const infra: Action[] = [];
  const usedNetworks = new Set<string>();
  for (const s of selOrder) for (const c of desired.services[s].containers) for (const n of Object.keys(c.config.networks)) usedNetworks.add(n);
  for (const n of desired.networks) {
    if (!usedNetworks.has(n.spec.name)) continue;
    const have = observed.networks[n.spec.name];
    if (have && observed.inferredNetworks?.includes(n.spec.name)) continue;
    if (have) {
      // Networks are not recreated under running containers: say what differs and how to converge.
      const wrong: string[] = [];
      if (!n.external && n.spec.subnet && have.subnet !== n.spec.subnet) wrong.push(`subnet ${have.subnet}, the stack asks for ${n.spec.subnet}`);
      if (!n.external && !!n.spec.internal !== !!have.internal) wrong.push(`internal ${!!have.internal}, the stack asks for ${!!n.spec.internal}`);
      if (wrong.length) problems.push(problem('invalid', `network ${n.spec.name} exists with ${wrong.join('; ')} (networks.${n.key}); run \`tsstack down\` first to recreate it`));
      continue;
    }
    if (n.external) problems.push(problem('missing', `network ${n.spec.name} is declared as external but does not exist (networks.${n.key})`));
    else infra.push({ type: 'create-network', resource: `network:${n.key}`, cause: 'missing', network: n, networkName: n.spec.name });
  }
  const usedVolumes = new Set<string>();
  for (const s of selOrder) for (const c of desired.services[s].containers) for (const m of c.config.volumes) if (m.type === 'volume') usedVolumes.add(m.source);
  for (const v of desired.volumes) {
    if (observed.volumes[v.name]) continue;
    if (v.external) {
      if (usedVolumes.has(v.name)) problems.push(problem('missing', `volume ${v.name} is declared as external but does not exist (volumes.${v.key})`));
    } else if (usedVolumes.has(v.name) || !v.labels['tsstack.anonymous']) {
      infra.push({ type: 'create-volume', resource: `volume:${v.key}`, cause: 'missing', volume: v, volumeName: v.name });
    }
  }

  const images: Action[] = [];
  const seenImages = new Set<string>();
  for (const s of opts.noImages ? [] : [...selOrder].sort()) {
    const svc = desired.services[s];
    if (seenImages.has(svc.image)) continue;
    const a = imageAction(svc, opts, problems);
    if (a) {
      seenImages.add(svc.image);
      images.push(a);
    }
  }
  images.sort((a, b) => cmp(a.resource, b.resource));

  const byService = new Map<string, ContainerInfo[]>();
  const orphans: ContainerInfo[] = [];
  for (const c of observed.containers) {
    const s = c.labels[LABEL.service];
    if (!s || !(s in desired.services)) orphans.push(c);
    else byService.set(s, [...(byService.get(s) ?? []), c]);
  }

  const removals: Action[] = [];
  if (orphans.length) {
    if (opts.removeOrphans) {
      for (const c of orphans) removals.push({ type: 'remove-orphan', resource: `container:${c.name}`, cause: `service ${c.labels[LABEL.service] ?? '?'} is not in the stack`, observed: c });
    } else {
      warnings.push(`found orphan containers (${orphans.map((c) => c.name).join(', ')}) for this project; run with --remove-orphans to remove them`);
    }
  }

  const service: Action[] = [];
  for (const s of selOrder) {
    const svc = desired.services[s];
    const have = [...(byService.get(s) ?? [])].sort((a, b) => num(a) - num(b) || cmp(a.name, b.name));
    const taken = new Set<number>();
    const extra: ContainerInfo[] = [];
    const current = new Map<number, ContainerInfo>();
    for (const c of have) {
      const n = num(c);
      if (n >= 1 && n <= svc.replicas && !taken.has(n)) {
        taken.add(n);
        current.set(n, c);
      } else extra.push(c);
    }
    for (const c of extra.sort((a, b) => num(b) - num(a) || cmp(a.name, b.name))) {
      removals.push({ type: 'remove', resource: `container:${c.name}`, cause: num(c) > svc.replicas ? `scale ${s} to ${svc.replicas}` : 'duplicate replica number', service: s, observed: c });
    }
    for (const c of svc.containers) {
      const obs = current.get(c.number);
      if (!obs) {
        service.push({ type: 'create', resource: c.id, cause: 'missing', service: s, container: c });
        continue;
      }
      const oldHash = obs.labels[LABEL.configHash];
      if (opts.forceRecreate) {
        service.push({ type: 'recreate', resource: c.id, cause: 'forced (--force-recreate)', service: s, container: c, observed: obs });
        continue;
      }
      if (oldHash !== c.hash && !opts.noRecreate) {
        const cause = svc.imageMissing ? `image ${svc.image} to be ${svc.build ? 'built' : 'pulled'}` : recreateCause(obs, hashedConfig(c.config));
        service.push({ type: 'recreate', resource: c.id, cause, service: s, container: c, observed: obs });
        continue;
      }
      if (opts.noStart) continue;
      if (obs.unsupervised) {
        // never a second instance beside it: the orphan is stopped through the runtime, then started under a monitor
        service.push({ type: 'restart', resource: c.id, cause: 'its monitor died; the container runs unsupervised', service: s, container: c, observed: obs });
        continue;
      }
      if (obs.status === 'created') service.push({ type: 'start', resource: c.id, cause: 'created, not started', service: s, container: c, observed: obs });
      else if (obs.status === 'exited' || obs.status === 'dead') {
        if (svc.oneShot && obs.exitCode === 0) continue; // a completed one-shot: done
        service.push({ type: 'start', resource: c.id, cause: `exited (${obs.exitCode ?? '?'})`, service: s, container: c, observed: obs });
      }
    }
  }

  // depends_on.restart: a running dependent is restarted when its dependency is replaced.
  const replaced = new Set(service.filter((a) => a.type === 'create' || a.type === 'recreate').map((a) => a.service!));
  const withRestarts: Action[] = [];
  for (const s of selOrder) {
    const svc = desired.services[s];
    const mine = service.filter((a) => a.service === s);
    withRestarts.push(...mine);
    const cause = Object.keys(svc.dependsOn).sort().find((d) => svc.dependsOn[d].restart && replaced.has(d));
    if (!cause || opts.noStart) continue;
    for (const c of svc.containers) {
      const obs = (byService.get(s) ?? []).find((o) => num(o) === c.number);
      if (!obs || mine.some((a) => a.resource === c.id) || obs.status !== 'running') continue;
      withRestarts.push({ type: 'restart', resource: c.id, cause: `dependency ${cause} replaced`, service: s, container: c, observed: obs });
      replaced.add(s);
    }
  }

  return new Plan(desired.project, [...repairs, ...infra, ...images, ...removals, ...withRestarts], selOrder, desired, warnings, problems, !!opts.noStart);
}

function num(c: ContainerInfo): number {
  const n = Number(c.labels[LABEL.number]);
  return Number.isInteger(n) ? n : 0;
}

function recreateCause(obs: ContainerInfo, config: object): string {
  const raw = obs.labels[RLABEL.config];
  if (!raw) return 'config hash differs';
  let before: unknown;
  try {
    before = JSON.parse(raw);
  } catch {
    return 'config hash differs';
  }
  const fields = changedFields(before, config, RENAME);
  return fields.length ? `changed: ${fields.join(', ')}` : 'config hash differs';
}

function policyOf(svc: DesiredService, opts: DiffOptions): PullPolicy | 'build' {
  if (opts.pull) return opts.pull;
  const p: ServiceSpec['pull_policy'] = svc.pullPolicy;
  if (p === 'if_not_present' || p === undefined) return 'missing';
  return p;
}

function imageAction(svc: DesiredService, opts: DiffOptions, problems: Problem[]): Action | undefined {
  const resource = `image:${svc.image}`;
  if (svc.build) {
    if (opts.build) return { type: 'build', resource, cause: '--build', service: svc.name, image: svc.image, build: svc.build };
    if (svc.pullPolicy === 'build') return { type: 'build', resource, cause: 'pull_policy build', service: svc.name, image: svc.image, build: svc.build };
    if (svc.imageMissing) return { type: 'build', resource, cause: 'not present locally', service: svc.name, image: svc.image, build: svc.build };
    return undefined;
  }
  const policy = policyOf(svc, opts);
  if (policy === 'always') return { type: 'pull', resource, cause: 'pull policy always', service: svc.name, image: svc.image, policy: 'always' };
  if (!svc.imageMissing) return undefined;
  if (policy === 'never') {
    problems.push(problem('missing', `image ${svc.image} (service ${svc.name}) is not present locally and the pull policy is never`));
    return undefined;
  }
  if (policy === 'build') {
    problems.push(problem('invalid', `service ${svc.name} has pull_policy build but no build section`));
    return undefined;
  }
  return { type: 'pull', resource, cause: 'not present locally', service: svc.name, image: svc.image, policy: 'missing' };
}

export interface DownOptions {
  volumes?: boolean;
  removeOrphans?: boolean;
  /** Services of the stack file; containers of others are orphans. Unset = remove everything of the project. */
  services?: string[];
}

/** What `down` does: remove the project's containers, then its networks, and its volumes with `-v`. */
export function planDown(observed: ObservedState, opts: DownOptions = {}): Plan {
  const actions: Action[] = [];
  const warnings: string[] = [];
  const known = opts.services ? new Set(opts.services) : undefined;
  const kept: string[] = [];
  const sorted = [...observed.containers].sort((a, b) => cmp(a.labels[LABEL.service] ?? '', b.labels[LABEL.service] ?? '') || num(b) - num(a) || cmp(a.name, b.name));
  for (const c of sorted) {
    const s = c.labels[LABEL.service] ?? '';
    if (known && !known.has(s) && !opts.removeOrphans) {
      kept.push(c.name);
      continue;
    }
    actions.push({ type: 'remove', resource: `container:${c.name}`, cause: known && !known.has(s) ? 'orphan' : 'down', service: s, observed: c });
  }
  if (kept.length) warnings.push(`found orphan containers (${kept.join(', ')}) for this project; run with --remove-orphans to remove them`);
  for (const name of Object.keys(observed.networks).sort()) {
    const n = observed.networks[name];
    if (n.labels[LABEL.project] !== observed.project) continue; // external or someone else's
    if (kept.length) continue; // still in use by orphans
    actions.push({ type: 'remove-network', resource: `network:${n.labels[LABEL.network] ?? name}`, cause: 'down', networkName: name });
  }
  if (opts.volumes) {
    for (const name of Object.keys(observed.volumes).sort()) {
      const v = observed.volumes[name];
      if (v.labels[LABEL.project] !== observed.project) continue;
      actions.push({ type: 'remove-volume', resource: `volume:${v.labels[LABEL.volume] ?? name}`, cause: 'down -v', volumeName: name });
    }
  }
  return new Plan(observed.project, actions, [], undefined, warnings, []);
}
