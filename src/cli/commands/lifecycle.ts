// Commands that act on existing containers: exec, run, start, stop, restart,
// kill, rm, wait, cp.

import type { ContainerInfo, Engine } from '../../engine/api.js';
import { LABEL } from '../../engine/api.js';
import { TsstackError } from '../../util/errors.js';
import type { Context } from '../context.js';
import { recoverFirst } from '../recover-first.js';
import { byServiceThenNumber, oneContainer, targets } from '../targets.js';

export async function runExec(ctx: Context, service: string, command: string[], o: { interactive?: boolean; tty?: boolean; TTY?: boolean; detach?: boolean; env?: string[]; user?: string; workdir?: string; index: number }): Promise<number> {
  const { engine, container } = await oneContainer(ctx, service, o.index);
  if (container.status !== 'running') throw new TsstackError('CONFLICT', `container ${container.name} is not running (${container.status})`, { hint: `start it with \`tsstack start ${service}\`` });
  if (o.detach) return engine.containers.exec(container.id, command, { detach: true, env: o.env, user: o.user, cwd: o.workdir }); // as `docker exec -d`: started, not waited for
  // As Compose: a pty when stdin is a terminal (-T: never); stdin passed on unless --no-interactive
  const stdin = ctx.io.stdin?.() ?? 'none';
  const tty = o.TTY === false ? false : o.tty || stdin === 'terminal';
  return engine.containers.exec(container.id, command, { tty, interactive: o.interactive ?? stdin !== 'none', env: o.env, user: o.user, cwd: o.workdir });
}

/** Dependencies of a service from the labels its containers carry (when no stack file is at hand). */
function depsFromLabels(cs: ContainerInfo[]): Record<string, string[]> {
  const deps: Record<string, string[]> = {};
  for (const c of cs) {
    const s = c.labels[LABEL.service];
    if (!s) continue;
    deps[s] = (c.labels['tsstack.depends-on'] ?? '').split(',').filter(Boolean);
  }
  return deps;
}

/**
 * Before containers start (again): what the host lost of their networks (a deleted bridge, a flushed
 * firewall) is remade from the records, saying so; a restart alone would not wire them back.
 * The DNS server needs nothing here: every start makes sure it runs.
 */
async function repairNetworks(ctx: Context, engine: Engine, cs: ContainerInfo[]): Promise<void> {
  const networks = [...new Set(cs.flatMap((c) => Object.keys(c.addresses)))].sort();
  if (!engine.health || !networks.length) return;
  const faults = await engine.health.check(networks, { dns: false });
  if (!faults.length) return;
  for (const f of faults) ctx.io.err(`repair ${f.resource} (${f.cause})`);
  await engine.health.repair(faults);
}

export function lifecycle(verb: 'start' | 'stop' | 'restart') {
  return async (ctx: Context, services: string[], o: { timeout?: number }): Promise<number> => {
    const all = await targets(ctx, []);
    const { topoOrder, withDependencies, dependents } = await import('../../reconcile/graph.js');
    const deps = depsFromLabels(all.containers);
    for (const d of Object.keys(deps)) deps[d] = deps[d].filter((x) => x in deps);
    const order = topoOrder(deps);
    const stopMs = o.timeout !== undefined ? o.timeout * 1000 : undefined;
    const of = (s: string) => all.containers.filter((c) => c.labels[LABEL.service] === s).sort(byServiceThenNumber);
    const failures: string[] = [];
    const each = async (cs: ContainerInfo[], f: (c: ContainerInfo) => Promise<void>) => {
      await Promise.all(cs.map(async (c) => {
        try {
          await f(c);
        } catch (e) {
          failures.push(`${c.name}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }));
    };
    const doStop = async (sel: Set<string>) => {
      for (const s of [...order].reverse()) {
        if (!sel.has(s)) continue;
        await each(of(s).filter((c) => c.status === 'running' || c.status === 'restarting'), async (c) => {
          await all.engine.containers.stop(c.id, stopMs);
          ctx.io.err(`${c.name}  Stopped`);
        });
      }
    };
    const doStart = async (sel: Set<string>) => {
      for (const s of order) {
        if (!sel.has(s)) continue;
        await each(of(s), async (c) => {
          const cur = await all.engine.containers.inspect(c.id);
          if (cur?.status === 'running') return;
          await all.engine.containers.start(c.id);
          ctx.io.err(`${c.name}  Started`);
        });
      }
    };
    const named = services.length ? services : order;
    if (verb === 'stop') await doStop(services.length ? new Set([...named, ...dependents(deps, named)]) : new Set(order));
    else if (verb === 'start') {
      const sel = withDependencies(deps, named);
      await repairNetworks(ctx, all.engine, all.containers.filter((c) => sel.has(c.labels[LABEL.service] ?? '')));
      await doStart(sel);
    }
    else {
      const sel = new Set(named);
      await doStop(sel);
      await repairNetworks(ctx, all.engine, all.containers.filter((c) => sel.has(c.labels[LABEL.service] ?? '')));
      await doStart(sel);
    }
    if (failures.length) {
      throw new TsstackError('RUNTIME', failures.length === 1 ? failures[0] : `${verb} failed for ${failures.length} containers`, { details: failures.length > 1 ? failures : [] });
    }
    return 0;
  };
}

export async function runKill(ctx: Context, services: string[], o: { signal: string }): Promise<number> {
  const t = await targets(ctx, services, { running: true });
  await Promise.all(t.containers.map((c) => t.engine.containers.kill(c.id, o.signal)));
  return 0;
}

export async function runRm(ctx: Context, services: string[], o: { force?: boolean; stop?: boolean; volumes?: boolean }): Promise<number> {
  const t = await targets(ctx, services);
  const running = t.containers.filter((c) => c.status === 'running' || c.status === 'restarting');
  if (running.length && !o.stop) {
    ctx.io.err(`not removing running containers (${running.map((c) => c.name).join(', ')}); use --stop`);
  }
  const gone = o.stop ? t.containers : t.containers.filter((c) => !running.includes(c));
  await ctx.locked(t.project, async () => {
    await recoverFirst(ctx, t.engine, t.project);
    // recovery may have removed a half-made container of the list: it is gone already
    const present = new Set((await t.engine.containers.list({ [LABEL.project]: t.project })).map((c) => c.id));
    for (const c of gone.filter((x) => present.has(x.id))) {
      if (running.includes(c)) await t.engine.containers.stop(c.id);
      await t.engine.containers.remove(c.id, { force: true });
      ctx.io.err(`${c.name}  Removed`);
    }
    if (o.volumes) {
      for (const v of await t.engine.volumes.list({ [LABEL.project]: t.project, 'tsstack.anonymous': 'true' })) {
        if (gone.some((c) => c.labels[LABEL.service] === v.labels[LABEL.service])) await t.engine.volumes.remove(v.name);
      }
    }
  });
  return 0;
}

export async function runWait(ctx: Context, services: string[], o: { downProject?: boolean }): Promise<number> {
  const t = await targets(ctx, services);
  if (!t.containers.length) throw new TsstackError('NOT_FOUND', `no containers for ${services.join(', ')}`);
  const codes = await Promise.all(t.containers.map((c) => t.engine.containers.wait(c.id)));
  for (const code of codes) ctx.io.out(String(code));
  if (o.downProject) {
    const { runDown } = await import('./up.js');
    await runDown(ctx, {});
  }
  return codes.find((c) => c !== 0) ?? 0;
}

export async function runCp(ctx: Context, src: string, dest: string, o: { index: number; archive?: boolean; followLink?: boolean }): Promise<number> {
  const split = (s: string) => {
    const m = /^([a-zA-Z0-9][a-zA-Z0-9_.-]*):(.*)$/.exec(s);
    return m && !s.startsWith('/') && !s.startsWith('.') ? { service: m[1], path: m[2] } : undefined;
  };
  const a = split(src);
  const b = split(dest);
  if (!!a === !!b) throw new TsstackError('USAGE', 'cp: exactly one of SRC and DEST must be SERVICE:PATH', { hint: 'e.g. tsstack cp web:/etc/hosts ./hosts' });
  const side = (a ?? b)!;
  const { engine, container } = await oneContainer(ctx, side.service, o.index);
  const opts = { archive: o.archive, followLink: o.followLink };
  const r = a ? await engine.containers.copy(container.id, a.path, dest, 'out', opts) : await engine.containers.copy(container.id, src, b!.path, 'in', opts);
  for (const s of r.skipped) ctx.io.err(`warning: not copied: ${s}`);
  return 0;
}
