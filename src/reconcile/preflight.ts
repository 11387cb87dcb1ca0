// preflight(): everything `up` can check before it changes anything, all
// problems collected and reported together (nothing is touched when any exist).

import { existsSync } from 'node:fs';
import type { Engine, PublishedPort } from '../engine/api.js';
import type { StackModel } from '../model/types.js';
import { platformProblems } from './platform.js';
import { deviceChecks } from './device-check.js';
import { problem, type Plan, type Problem } from './plan.js';

/**
 * The engine's answer to a check of the host: what it reports stands in the way of the stack (a port
 * held, a subnet taken), so a conflict; a check that cannot run says so (unchecked), never nothing.
 */
async function ask(f: () => Promise<string[]>, what: string): Promise<Problem[]> {
  try {
    return (await f()).map((m) => problem('conflict', m));
  } catch (e) {
    return [problem('unchecked', `could not check ${what}: ${e instanceof Error ? e.message : String(e)}`)];
  }
}

/** Problems in the model that the schema cannot express (pure). */
export function modelProblems(model: StackModel, services: string[]): Problem[] {
  const out: Problem[] = platformProblems(model.services, services).map((m) => problem('invalid', m));
  for (const s of services) {
    const h = model.services[s]?.healthcheck;
    if (h && !h.disable && h.start_interval !== undefined && h.start_period === undefined) {
      out.push(problem('invalid', `service "${s}": healthcheck.start_interval requires healthcheck.start_period to be set`));
    }
  }
  return out;
}

export async function preflight(plan: Plan, engine: Engine, model?: StackModel): Promise<Problem[]> {
  const problems = [...plan.problems, ...(model ? modelProblems(model, plan.order) : [])];
  const creates = plan.actions.filter((a) => a.type === 'create' || a.type === 'recreate');
  // the host devices of the containers to be made (a kept container is not re-checked)
  if (model) problems.push(...deviceChecks(model, [...new Set(creates.flatMap((a) => (a.container ? [a.container.service] : [])))].sort()));

  // Host ports: duplicates within the plan (pure), then the engine's view (processes, other stacks).
  const seen = new Map<string, string>();
  for (const svc of plan.desired ? Object.values(plan.desired.services) : []) {
    if (!plan.order.includes(svc.name)) continue;
    for (const c of svc.containers) {
      for (const p of c.config.ports) {
        if (!p.hostPort) continue;
        const key = `${p.hostIp ?? '0.0.0.0'}:${p.hostPort}/${p.protocol}`;
        const other = seen.get(key);
        if (other) problems.push(problem('conflict', `host port ${p.hostPort}/${p.protocol} is published by both ${other} and ${c.name}`));
        else seen.set(key, c.name);
      }
    }
  }
  // One request at a time: the network manager's netlink dumps share a socket.
  const portProblems: Problem[] = [];
  const fresh: PublishedPort[] = [];
  for (const a of creates) {
    const ports: PublishedPort[] = a.container!.config.ports.filter((p) => p.hostPort);
    if (!ports.length) continue;
    if (a.observed) portProblems.push(...(await ask(() => engine.networks.checkPorts(ports, a.observed!.id), 'host ports')));
    else fresh.push(...ports);
  }
  if (fresh.length) portProblems.push(...(await ask(() => engine.networks.checkPorts(fresh), 'host ports')));
  const nets = plan.actions.filter((a) => a.type === 'create-network').map((a) => a.network!.spec);
  const netProblems = nets.length ? await ask(() => engine.networks.check(nets), 'networks') : [];
  problems.push(...portProblems, ...netProblems);

  for (const a of creates) {
    if (a.container!.config.imageId && a.container!.config.command.length === 0) {
      problems.push(problem('invalid', `service ${a.service} has no command: neither the stack nor image ${a.container!.config.image} gives one`));
    }
  }

  // Bind-mount sources that the stack does not ask to create must exist.
  if (model) {
    for (const a of creates) {
      const svc = model.services[a.service!];
      for (const v of svc?.volumes ?? []) {
        if (v.type === 'bind' && !v.bind?.create_host_path && !existsSync(v.source)) {
          problems.push(problem('missing', `bind mount source ${v.source} of service ${a.service} does not exist`));
        }
      }
    }
    for (const a of creates) {
      const seccomp = a.container!.config.seccomp;
      if (seccomp && seccomp !== 'unconfined' && !existsSync(seccomp)) problems.push(problem('missing', `seccomp profile ${seccomp} of service ${a.service} does not exist`));
    }
    for (const a of plan.actions.filter((x) => x.type === 'build')) {
      if (!existsSync(a.build!.context)) problems.push(problem('missing', `build context ${a.build!.context} of service ${a.service} does not exist`));
    }
  }
  return unique(problems);
}

/** One of each message (the same port may be checked for several containers). */
function unique(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => !seen.has(p.message) && !!seen.add(p.message));
}
