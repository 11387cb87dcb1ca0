// Finding the containers a command acts on: by project and service labels,
// sorted by service then replica number.

import type { ContainerInfo, Engine, PublishedPort } from '../engine/api.js';
import { LABEL } from '../engine/api.js';
import { TsstackError } from '../util/errors.js';
import type { Context } from './context.js';

export function byServiceThenNumber(a: ContainerInfo, b: ContainerInfo): number {
  const sa = a.labels[LABEL.service] ?? '';
  const sb = b.labels[LABEL.service] ?? '';
  if (sa !== sb) return sa < sb ? -1 : 1;
  return Number(a.labels[LABEL.number] ?? 0) - Number(b.labels[LABEL.number] ?? 0) || (a.name < b.name ? -1 : 1);
}

export interface Target {
  project: string;
  engine: Engine;
  containers: ContainerInfo[];
}

/** The project's containers of `services` (all services when empty); one-offs only when asked. */
export async function targets(ctx: Context, services: string[], opts: { oneoff?: boolean; running?: boolean } = {}): Promise<Target> {
  const project = await ctx.projectName();
  const engine = await ctx.openEngine();
  const model = services.length ? await ctx.maybeModel().catch(() => undefined) : undefined;
  if (model) {
    const unknown = services.filter((s) => !(s in model.services));
    if (unknown.length) throw new TsstackError('NOT_FOUND', `no such service: ${unknown.join(', ')}`, { hint: `services of ${project}: ${Object.keys(model.services).sort().join(', ')}` });
  }
  let cs = await engine.containers.list({ [LABEL.project]: project });
  if (!opts.oneoff) cs = cs.filter((c) => c.labels[LABEL.oneoff] !== 'True');
  if (services.length) cs = cs.filter((c) => services.includes(c.labels[LABEL.service] ?? ''));
  if (opts.running) cs = cs.filter((c) => c.status === 'running' || c.status === 'restarting');
  return { project, engine, containers: cs.sort(byServiceThenNumber) };
}

/** Replica `index` (default 1) of a service. */
export async function oneContainer(ctx: Context, service: string, index = 1): Promise<{ project: string; engine: Engine; container: ContainerInfo }> {
  const t = await targets(ctx, [service]);
  const c = t.containers.find((x) => Number(x.labels[LABEL.number]) === index) ?? (index === 1 ? t.containers[0] : undefined);
  if (!c) throw new TsstackError('NOT_FOUND', `service ${service} has no container${index !== 1 ? ` number ${index}` : ''} in project ${t.project}`, { hint: 'run `tsstack up` first' });
  return { project: t.project, engine: t.engine, container: c };
}

export function formatPort(p: PublishedPort): string {
  return `${p.hostIp ?? '0.0.0.0'}:${p.hostPort}->${p.containerPort}/${p.protocol}`;
}

export function statusText(c: ContainerInfo): string {
  let s: string = c.status;
  if (c.status === 'exited' || c.status === 'dead') s += ` (${c.exitCode ?? '?'})`;
  if (c.health) s += ` (${c.health})`;
  if (c.oomKilled) s += ' oom-killed';
  if (c.unsupervised) s += ' (unsupervised: its monitor died; `tsstack up` restarts it under a new one)';
  return s;
}
