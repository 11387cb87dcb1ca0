// What the dashboard shows of a stack: its services (from the model when there
// is one, else from the containers' labels) with their containers' states,
// health, ports and restarts, and the edges of the graph (depends_on, networks).
// Pure: the hub feeds it the engine's answers.

import type { ContainerInfo } from '../engine/api.js';
import { LABEL } from '../engine/api.js';
import type { StackModel } from '../model/types.js';

export interface PortView { hostIp: string; hostPort: number; containerPort: number; protocol: string; url?: string }

export interface ContainerView {
  id: string;
  name: string;
  number: number;
  status: ContainerInfo['status'];
  health?: ContainerInfo['health'];
  healthOutput?: string;
  exitCode?: number;
  restartCount: number;
  startedAt?: string;
  /** Restarted (its count grew) while watched and not yet healthy again (or, without a healthcheck, running a second). */
  crashed?: boolean;
  ports: PortView[];
}

/** `ok` green, `starting` amber, `bad` red, `off` grey (stopped on purpose or scaled to 0). */
export type ServiceState = 'ok' | 'starting' | 'bad' | 'off';

export interface ServiceView {
  name: string;
  image?: string;
  dependsOn: string[];
  networks: string[];
  replicas: { want?: number; running: number };
  state: ServiceState;
  restarts: number;
  ports: PortView[];
  containers: ContainerView[];
  /** The stack file's limits, drawn on the charts (the memory limit also comes with each sample). */
  limits: { cpus?: number; memory?: number; pids?: number };
}

export function portView(p: ContainerInfo['ports'][number]): PortView {
  const hostIp = p.hostIp ?? '0.0.0.0';
  const shown = hostIp === '0.0.0.0' || hostIp === '::' ? '127.0.0.1' : hostIp;
  const v: PortView = { hostIp, hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol };
  if (p.protocol === 'tcp') v.url = `http://${shown.includes(':') ? `[${shown}]` : shown}:${p.hostPort}/`;
  return v;
}

function containerState(c: ContainerView): ServiceState {
  if (c.crashed) return 'bad';
  if (c.status === 'running') return c.health === 'unhealthy' ? 'bad' : c.health === 'starting' ? 'starting' : 'ok';
  if (c.status === 'restarting' || c.status === 'dead') return 'bad';
  if (c.status === 'exited') return c.exitCode ? 'bad' : 'off';
  return 'off';
}

/** The worst state of a service's containers (bad > starting > ok > off); `bad` when replicas are wanted and none exists. */
export function serviceState(cs: ContainerView[], want: number | undefined): ServiceState {
  if (!cs.length) return want ? 'bad' : 'off';
  const states = cs.map(containerState);
  for (const s of ['bad', 'starting', 'ok'] as const) if (states.includes(s)) return s;
  return 'off';
}

/** Service views sorted by name; one-off (`run`) containers are left out. */
/** What the view shows of the stack file's services: the model's, or the outline a `tsstack ui` child sends. */
type OutlineKeys = 'image' | 'depends_on' | 'networks' | 'scale' | 'cpus' | 'mem_limit' | 'pids_limit' | 'deploy';
export interface ModelOutline {
  services: Record<string, Partial<Pick<StackModel['services'][string], OutlineKeys>>>;
}

/** The outline of a model: only what servicesView reads (small to send, small to keep). */
export function outline(model: Pick<StackModel, 'services'>): ModelOutline {
  const services: ModelOutline['services'] = {};
  for (const [name, s] of Object.entries(model.services)) {
    const limits = s.deploy?.resources?.limits;
    services[name] = {
      image: s.image, depends_on: s.depends_on, networks: s.networks, scale: s.scale, cpus: s.cpus, mem_limit: s.mem_limit, pids_limit: s.pids_limit,
      deploy: limits ? { resources: { limits } } : undefined,
    } as ModelOutline['services'][string];
  }
  return { services };
}

export function servicesView(model: ModelOutline | undefined, containers: ContainerInfo[], crashed: ReadonlySet<string> = new Set()): ServiceView[] {
  const own = containers.filter((c) => c.labels[LABEL.oneoff] !== 'True' && c.labels[LABEL.service]);
  const names = new Set([...Object.keys(model?.services ?? {}), ...own.map((c) => c.labels[LABEL.service])]);
  return [...names].sort().map((name) => {
    const spec = model?.services[name];
    const cs = own.filter((c) => c.labels[LABEL.service] === name);
    const views: ContainerView[] = cs.map((c) => {
      const v: ContainerView = {
        id: c.id, name: c.name, number: Number(c.labels[LABEL.number] ?? 1), status: c.status, restartCount: c.restartCount,
        ports: c.ports.map(portView),
      };
      if (c.health) v.health = c.health;
      if (c.healthOutput !== undefined) v.healthOutput = c.healthOutput;
      if (c.exitCode !== undefined) v.exitCode = c.exitCode;
      if (c.startedAt) v.startedAt = c.startedAt;
      if (crashed.has(c.id)) v.crashed = true;
      return v;
    }).sort((a, b) => a.number - b.number);
    const dependsOn = spec ? Object.keys(spec.depends_on ?? {}) : (cs[0]?.labels['tsstack.depends-on'] ?? '').split(',').filter(Boolean);
    const networks = spec ? Object.keys(spec.networks ?? {}) : [...new Set(cs.flatMap((c) => Object.keys(c.addresses)))];
    const want = spec ? (spec.scale ?? 1) : undefined;
    // as reconcile/desired.ts resolves them: deploy.resources.limits first, then the short keys
    const lim = spec?.deploy?.resources?.limits ?? {};
    const limits: ServiceView['limits'] = {};
    const cpus = lim.cpus ?? spec?.cpus;
    const memory = lim.memory ?? spec?.mem_limit;
    const pids = lim.pids ?? spec?.pids_limit;
    if (cpus) limits.cpus = cpus;
    if (memory) limits.memory = memory;
    if (pids && pids > 0) limits.pids = pids;
    return {
      name,
      image: spec?.image ?? cs[0]?.image,
      dependsOn: dependsOn.filter((d) => names.has(d)).sort(),
      networks: networks.sort(),
      replicas: { want, running: views.filter((v) => v.status === 'running').length },
      state: serviceState(views, want),
      restarts: views.reduce((n, v) => n + v.restartCount, 0),
      ports: views.flatMap((v) => v.ports),
      containers: views,
      limits,
    };
  });
}

/**
 * Containers that crashed while watched: those whose restart count grew since the last look stay
 * marked until they are healthy again (without a healthcheck: running for `settleMs`). A restart
 * by the monitor takes ~100 ms, quicker than anyone looks; this keeps it visible.
 */
export class CrashTracker {
  private counts = new Map<string, number>();
  private marked = new Set<string>();

  constructor(private readonly settleMs = 1000) {}

  /** Some container is marked: look again even when the engine's state did not move (the settle time passes). */
  get pending(): boolean {
    return this.marked.size > 0;
  }

  update(containers: ContainerInfo[], now = Date.now()): ReadonlySet<string> {
    const seen = new Set<string>();
    for (const c of containers) {
      seen.add(c.id);
      const before = this.counts.get(c.id);
      if (before !== undefined && c.restartCount > before) this.marked.add(c.id);
      this.counts.set(c.id, c.restartCount);
      if (!this.marked.has(c.id) || c.status !== 'running') continue;
      const settled = c.health ? c.health === 'healthy' : !!c.startedAt && now - Date.parse(c.startedAt) >= this.settleMs;
      if (settled) this.marked.delete(c.id);
    }
    for (const id of [...this.counts.keys()]) if (!seen.has(id)) { this.counts.delete(id); this.marked.delete(id); }
    return this.marked;
  }
}
