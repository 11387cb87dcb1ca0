// `tsstack ps --swarm` and `tsstack logs --swarm`: the project's tasks on a
// Swarm and their output, through the manager's Engine API.

import type { Context } from '../../cli/context.js';
import { TsstackError } from '../../util/errors.js';
import { SwarmEngine, engineAddress, type Task } from './engine.js';
import { PROJECT_LABEL, SERVICE_LABEL, type JsonObject } from './types.js';

/** `--swarm` alone is `true`; `--swarm URL` names the manager. */
export type SwarmFlag = boolean | string;

async function open(ctx: Context, flag: SwarmFlag): Promise<{ eng: SwarmEngine; project: string }> {
  const project = (await ctx.loadModel()).name;
  const eng = new SwarmEngine(engineAddress(typeof flag === 'string' ? flag : undefined, ctx.io.env), ctx.io.env);
  await eng.checkManager();
  return { eng, project };
}

interface Row { service: string; name: string; node: string; desired: string; state: string; error: string; image: string; ports: string; id: string }

/** Pure: tasks → rows, newest first per slot, only running or wanted ones unless `all`. */
export function taskRows(services: { ID: string; Spec: JsonObject }[], tasks: Task[], nodes: Record<string, string>, all: boolean): Row[] {
  const rows: Row[] = [];
  for (const t of tasks) {
    const svc = services.find((s) => s.ID === t.ServiceID);
    if (!svc) continue;
    if (!all && t.DesiredState !== 'running' && t.Status.State !== 'running') continue;
    const key = (svc.Spec.Labels as Record<string, string> | undefined)?.[SERVICE_LABEL] ?? String(svc.Spec.Name);
    const ports = ((t as unknown as { Status: { PortStatus?: { Ports?: { PublishedPort?: number; TargetPort?: number; Protocol?: string }[] } } }).Status.PortStatus?.Ports ?? [])
      .map((p) => `${p.PublishedPort}->${p.TargetPort}/${p.Protocol ?? 'tcp'}`).join(', ');
    rows.push({
      service: key, name: t.Slot ? `${key}.${t.Slot}` : `${key}.${t.NodeID ? nodes[t.NodeID] ?? t.NodeID.slice(0, 12) : '?'}`,
      node: t.NodeID ? nodes[t.NodeID] ?? t.NodeID.slice(0, 12) : '', desired: t.DesiredState, state: t.Status.State,
      error: t.Status.Err ?? '', image: String(((t.Spec as JsonObject | undefined)?.ContainerSpec as JsonObject | undefined)?.Image ?? '').replace(/@sha256:[0-9a-f]+$/, ''), ports, id: t.ID,
    });
  }
  return rows.sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }) || a.desired.localeCompare(b.desired));
}

export async function swarmPs(ctx: Context, flag: SwarmFlag, services: string[], o: { all?: boolean; quiet?: boolean; services?: boolean; format?: string }): Promise<number> {
  const { eng, project } = await open(ctx, flag);
  return remoteErrors(eng, 'ps', () => ps(ctx, eng, project, services, o));
}

async function remoteErrors<T>(eng: SwarmEngine, what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof TsstackError) throw e;
    throw eng.remote(`${what} failed`, e);
  }
}

async function ps(ctx: Context, eng: SwarmEngine, project: string, services: string[], o: { all?: boolean; quiet?: boolean; services?: boolean; format?: string }): Promise<number> {
  const d = eng.docker;
  const filters = JSON.stringify({ label: [`${PROJECT_LABEL}=${project}`] });
  const svcs = (await d.listServices({ filters }) as unknown as { ID: string; Spec: JsonObject }[])
    .filter((s) => !services.length || services.includes((s.Spec.Labels as Record<string, string>)[SERVICE_LABEL] ?? ''));
  if (o.services) {
    for (const s of svcs) ctx.io.out((s.Spec.Labels as Record<string, string>)[SERVICE_LABEL] ?? String(s.Spec.Name));
    return 0;
  }
  const tasks = (await Promise.all(svcs.map((s) => eng.tasks(s.ID)))).flat();
  const nodes = Object.fromEntries((await d.listNodes() as { ID: string; Description?: { Hostname?: string } }[]).map((n) => [n.ID, n.Description?.Hostname ?? n.ID.slice(0, 12)]));
  const rows = taskRows(svcs, tasks, nodes, !!o.all);
  if (o.quiet) {
    for (const r of rows) ctx.io.out(r.id);
  } else if (o.format === 'json') {
    ctx.io.out(JSON.stringify(rows));
  } else {
    const head: (keyof Row)[] = ['name', 'image', 'node', 'desired', 'state', 'ports', 'error'];
    const table = [head.map((h) => h.toUpperCase()), ...rows.map((r) => head.map((h) => r[h]))];
    const widths = head.map((_, i) => Math.max(...table.map((l) => l[i]!.length)));
    for (const l of table) ctx.io.out(l.map((c, i) => c.padEnd(widths[i]!)).join('   ').trimEnd());
  }
  return 0;
}

/** Docker's `details` prefix of a service log line: `com.docker.swarm.node.id=…,com.docker.swarm.service.id=…,com.docker.swarm.task.id=… TEXT`. */
export function splitDetails(line: string): { task?: string; node?: string; text: string } {
  const m = /^(\S*com\.docker\.swarm\.[^ ]*) (.*)$/s.exec(line);
  if (!m) return { text: line };
  const kv = Object.fromEntries(m[1]!.split(',').map((p) => { const i = p.indexOf('='); return [p.slice(0, i), p.slice(i + 1)]; }));
  return { task: kv['com.docker.swarm.task.id'], node: kv['com.docker.swarm.node.id'], text: m[2]! };
}

export async function swarmLogs(ctx: Context, flag: SwarmFlag, services: string[], o: { follow?: boolean; tail?: number; since?: string; timestamps?: boolean; logPrefix?: boolean }): Promise<number> {
  const { eng, project } = await open(ctx, flag);
  return remoteErrors(eng, 'logs', () => logs(ctx, eng, project, services, o));
}

async function logs(ctx: Context, eng: SwarmEngine, project: string, services: string[], o: { follow?: boolean; tail?: number; since?: string; timestamps?: boolean; logPrefix?: boolean }): Promise<number> {
  const d = eng.docker;
  const svcs = (await d.listServices({ filters: JSON.stringify({ label: [`${PROJECT_LABEL}=${project}`] }) }) as unknown as { ID: string; Spec: JsonObject }[])
    .filter((s) => !services.length || services.includes((s.Spec.Labels as Record<string, string>)[SERVICE_LABEL] ?? ''));
  const slots = new Map<string, string>();
  const key = (s: { Spec: JsonObject }) => (s.Spec.Labels as Record<string, string>)[SERVICE_LABEL] ?? String(s.Spec.Name);
  for (const s of svcs) for (const t of await eng.tasks(s.ID)) slots.set(t.ID, t.Slot ? `${key(s)}.${t.Slot}` : key(s));
  await Promise.all(svcs.map(async (s) => {
    const opts = { stdout: true, stderr: true, details: true, follow: !!o.follow, timestamps: !!o.timestamps, ...(o.tail !== undefined ? { tail: o.tail } : {}), ...(o.since ? { since: o.since } : {}) };
    const raw = await d.getService(s.ID).logs(opts as never) as unknown as Buffer | NodeJS.ReadableStream;
    const emit = (stream: 'out' | 'err', chunk: string) => {
      for (const line of chunk.split('\n')) {
        if (!line) continue;
        const { task, text } = splitDetails(line);
        const prefix = o.logPrefix === false ? '' : `${(task && slots.get(task)) ?? key(s)} | `;
        (stream === 'out' ? ctx.io.out : ctx.io.err)(prefix + text);
      }
    };
    for await (const frame of frames(raw)) emit(frame.stream, frame.data);
  }));
  return 0;
}

/** Docker's multiplexed stream (8-byte headers: stream, 0, 0, 0, size) → frames, whole lines each. */
async function* frames(raw: Buffer | NodeJS.ReadableStream): AsyncGenerator<{ stream: 'out' | 'err'; data: string }> {
  let buf = Buffer.alloc(0);
  const pending: Record<'out' | 'err', string> = { out: '', err: '' };
  const chunks: Iterable<Buffer> | AsyncIterable<Buffer> = Buffer.isBuffer(raw) ? [raw] : (raw as AsyncIterable<Buffer>);
  for await (const c of chunks) {
    buf = Buffer.concat([buf, c]);
    while (buf.length >= 8) {
      const size = buf.readUInt32BE(4);
      if (buf.length < 8 + size) break;
      const stream = buf[0] === 2 ? 'err' : 'out';
      const text = pending[stream] + buf.subarray(8, 8 + size).toString('utf8');
      buf = buf.subarray(8 + size);
      const cut = text.lastIndexOf('\n');
      pending[stream] = text.slice(cut + 1);
      if (cut >= 0) yield { stream, data: text.slice(0, cut) };
    }
  }
  for (const s of ['out', 'err'] as const) if (pending[s]) yield { stream: s, data: pending[s] };
}
