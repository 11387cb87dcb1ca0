// Read-only commands: ps, logs, top, port, stats, ls, images.

import { LABEL } from '../../engine/api.js';
import { TsstackError } from '../../util/errors.js';
import { onInterrupt, type Context } from '../context.js';
import { table } from '../render.js';
import { formatPort, oneContainer, statusText, targets } from '../targets.js';
import { streamLogs } from '../attach.js';

export async function runPs(ctx: Context, services: string[], o: { all?: boolean; quiet?: boolean; services?: boolean; format?: string; swarm?: boolean | string }): Promise<number> {
  if (o.swarm) return (await import('../../deploy/swarm/tasks.js')).swarmPs(ctx, o.swarm, services, o);
  const t = await targets(ctx, services);
  const cs = o.all ? t.containers : t.containers.filter((c) => c.status === 'running' || c.status === 'restarting' || c.status === 'paused');
  if (o.quiet) {
    for (const c of cs) ctx.io.out(c.id);
    return 0;
  }
  if (o.services) {
    for (const s of [...new Set(cs.map((c) => c.labels[LABEL.service]))].sort()) ctx.io.out(s ?? '');
    return 0;
  }
  if (o.format === 'json') {
    ctx.io.out(JSON.stringify(cs.map((c) => ({
      ID: c.id, Name: c.name, Project: t.project, Service: c.labels[LABEL.service], Number: Number(c.labels[LABEL.number] ?? 0),
      Image: c.image, State: c.status, Health: c.health ?? '', ExitCode: c.exitCode ?? 0, Status: statusText(c),
      Created: c.created, Publishers: c.ports.map((p) => ({ URL: p.hostIp ?? '0.0.0.0', PublishedPort: p.hostPort, TargetPort: p.containerPort, Protocol: p.protocol })),
      Networks: Object.keys(c.addresses).sort(), Addresses: c.addresses,
    }))));
    return 0;
  }
  ctx.io.out(table([['NAME', 'IMAGE', 'SERVICE', 'STATUS', 'PORTS'], ...cs.map((c) => [c.name, c.image, c.labels[LABEL.service] ?? '', statusText(c), c.ports.map(formatPort).join(', ')])]));
  return 0;
}

/** RFC 3339 timestamp, or a duration back from now (`10m`, `1h30m`, `45s`). */
export function parseSince(s: string, now = Date.now()): Date {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(s);
  if (m && s !== '') return new Date(now - ((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 1000);
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) throw new TsstackError('USAGE', `--since: not a timestamp or duration: ${JSON.stringify(s)}`, { hint: 'use e.g. 2026-01-02T15:04:05Z or 10m' });
  return d;
}

export async function runLogs(ctx: Context, services: string[], o: { follow?: boolean; tail?: number; since?: string; timestamps?: boolean; color?: boolean; logPrefix?: boolean; swarm?: boolean | string }): Promise<number> {
  if (o.swarm) return (await import('../../deploy/swarm/tasks.js')).swarmLogs(ctx, o.swarm, services, o);
  const t = await targets(ctx, services);
  const s = streamLogs(ctx, t.engine, t.project, t.containers, {
    follow: o.follow, tail: o.tail, since: o.since ? parseSince(o.since) : undefined, timestamps: o.timestamps,
    prefix: o.logPrefix !== false, colour: o.color === false ? false : undefined,
  });
  onInterrupt(() => s.stop());
  try {
    // as Docker: a log that cannot be read (logging driver none) makes the command fail
    return (await s.done) ? 1 : 0;
  } finally {
    onInterrupt(undefined);
  }
}

export async function runTop(ctx: Context, services: string[]): Promise<number> {
  const t = await targets(ctx, services, { running: true });
  for (const c of t.containers) {
    const ps = await t.engine.containers.top(c.id);
    ctx.io.out(c.name);
    ctx.io.out(table([['PID', 'CMD'], ...ps.map((p) => [String(p.pid), p.cmd])]));
    ctx.io.out('');
  }
  return 0;
}

export async function runPort(ctx: Context, service: string, port: string, o: { protocol: string; index: number }): Promise<number> {
  const { container } = await oneContainer(ctx, service, o.index);
  const p = container.ports.find((x) => x.containerPort === Number(port) && x.protocol === o.protocol);
  if (!p) throw new TsstackError('NOT_FOUND', `no port ${port}/${o.protocol} published for ${container.name}`);
  ctx.io.out(`${p.hostIp ?? '0.0.0.0'}:${p.hostPort}`);
  return 0;
}

function human(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)}${u[i]}`;
}

export async function runStats(ctx: Context, services: string[], o: { stream?: boolean; format?: string }): Promise<number> {
  const t = await targets(ctx, services, { running: true });
  let stop = false;
  onInterrupt(() => { stop = true; });
  try {
    for (;;) {
      const rows = await Promise.all(t.containers.map(async (c) => ({ c, s: await t.engine.containers.stats(c.id) })));
      if (o.format === 'json') ctx.io.out(JSON.stringify(rows.map(({ c, s }) => ({ Name: c.name, ID: c.id, ...s }))));
      else {
        if (o.stream !== false && ctx.io.tty) process.stdout.write('\x1b[2J\x1b[H');
        ctx.io.out(table([['NAME', 'CPU %', 'MEM USAGE / LIMIT', 'PIDS', 'NET I/O'], ...rows.map(({ c, s }) => [
          c.name, `${s.cpuPercent.toFixed(2)}%`, `${human(s.memoryUsage)} / ${s.memoryLimit ? human(s.memoryLimit) : '-'}`, String(s.pids), `${human(s.netRx)} / ${human(s.netTx)}`,
        ])]));
      }
      if (o.stream === false || stop) break;
      await new Promise((r) => setTimeout(r, 1000));
      if (stop) break;
    }
  } finally {
    onInterrupt(undefined);
  }
  return 0;
}

export async function runLs(ctx: Context, o: { all?: boolean; format?: string }): Promise<number> {
  const engine = await ctx.openEngine();
  const cs = await engine.containers.list();
  const projects = new Map<string, { running: number; exited: number; other: number; files: string }>();
  for (const c of cs) {
    const p = c.labels[LABEL.project];
    if (!p) continue;
    const e = projects.get(p) ?? { running: 0, exited: 0, other: 0, files: c.labels['tsstack.config-files'] ?? '' };
    if (c.status === 'running') e.running++;
    else if (c.status === 'exited') e.exited++;
    else e.other++;
    projects.set(p, e);
  }
  const rows = [...projects.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).filter(([, e]) => o.all || e.running > 0);
  const status = (e: { running: number; exited: number; other: number }) => [e.running ? `running(${e.running})` : '', e.exited ? `exited(${e.exited})` : '', e.other ? `created(${e.other})` : ''].filter(Boolean).join(', ');
  if (o.format === 'json') ctx.io.out(JSON.stringify(rows.map(([n, e]) => ({ Name: n, Status: status(e), ConfigFiles: e.files }))));
  else ctx.io.out(table([['NAME', 'STATUS', 'CONFIG FILES'], ...rows.map(([n, e]) => [n, status(e), e.files])]));
  return 0;
}

export async function runImages(ctx: Context, services: string[], o: { format?: string }): Promise<number> {
  const t = await targets(ctx, services);
  const rows = await Promise.all(t.containers.map(async (c) => ({ c, i: await t.engine.images.inspect(c.imageId || c.image).catch(() => undefined) })));
  if (o.format === 'json') ctx.io.out(JSON.stringify(rows.map(({ c, i }) => ({ ContainerName: c.name, Repository: c.image, ID: c.imageId, Size: i?.size ?? 0 }))));
  else ctx.io.out(table([['CONTAINER', 'IMAGE', 'IMAGE ID', 'SIZE'], ...rows.map(({ c, i }) => [c.name, c.image, c.imageId.replace(/^sha256:/, '').slice(0, 12), i ? human(i.size) : '-'])]));
  return 0;
}
