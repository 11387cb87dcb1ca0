// The dashboard's state and its fan-out to the pages. It asks the engine only
// while a page listens. With a change watch (changes.ts: inotify on the
// containers' records) a change is looked at when it happens, and a slow safety
// look at the engine's state fingerprint every `pollMs` finds what no record
// shows; without one (tests' fake engines) the fingerprint is looked at every
// `pollMs`. Cgroup figures are read every `statsMs`. Each change goes to every
// page as one event. No page, no work.

import type { ContainerInfo, ContainerStats, Engine } from '../engine/api.js';
import { LABEL } from '../engine/api.js';
import { CrashTracker, servicesView, type ModelOutline, type ServiceView } from './view.js';

export interface PlanView {
  /** What `tsstack plan` prints. */
  text: string;
  empty: boolean;
  warnings: string[];
  problems: string[];
  at: string;
}

export interface HistoryEntry {
  id: number;
  /** `watch: stack.yaml changed`, `dashboard: apply`, `up`… */
  trigger: string;
  started: string;
  plan?: string;
  state: 'running' | 'done' | 'failed';
  durationMs?: number;
  failed?: string[];
  warnings?: string[];
}

export interface StatsSample { t: number; cpu: number; mem: number; memLimit?: number; pids: number; rx: number; tx: number }

export interface HubEvent { type: string; data: unknown }
export type Listener = (e: HubEvent) => void;

/** What the hub asks of the engine: the engine itself, or its records read by `tsstack ui` (records.ts). */
export interface HubEngine {
  containers: Pick<Engine['containers'], 'list' | 'inspect' | 'logs'> & Partial<Pick<Engine['containers'], 'stats'>>;
  stateFingerprint: Engine['stateFingerprint'];
}

/** What the hub needs besides the engine (the CLI gives the real ones, tests fakes). */
export interface HubDeps {
  engine: HubEngine;
  project: string;
  /** The stack as its files say now (what the view shows of it); undefined without a stack file (`ui -p NAME`). */
  model(): Promise<ModelOutline | undefined>;
  /** What `up` would change now. */
  plan(): Promise<PlanView>;
  /** Calls back on every change of the containers' records (changes.ts); absent: the fingerprint is polled. */
  watch?(onChange: () => void): { close(): void };
  /** Samples of the running containers (stats.ts); absent: the engine's `stats` of each. */
  sampler?: { sample(cs: ContainerInfo[]): Record<string, StatsSample>; reset(): void };
  /** Between two looks at the fingerprint: with a watch, the safety look (default 5 s); else the poll (150 ms). */
  pollMs?: number;
  statsMs?: number;
  /** Samples kept per container (the charts' width). */
  keep?: number;
}

/** A reconcile the hub reports as it goes (watch mode's or the apply button's). */
export interface ReconcileReport {
  plan(text: string): void;
  done(r: { failed: string[]; warnings: string[] }): void;
}

export class Hub {
  private listeners = new Set<Listener>();
  private timer?: NodeJS.Timeout;
  private statsTimer?: NodeJS.Timeout;
  private kickTimer?: NodeJS.Timeout;
  private settleTimer?: NodeJS.Timeout;
  private watching?: { close(): void };
  private digest?: string;
  private pids?: number[];
  private recheck = false;
  private containers: ContainerInfo[] = [];
  private services: ServiceView[] = [];
  private servicesJson = '';
  private model?: ModelOutline;
  private modelRead = false;
  private planView?: PlanView;
  private planDirty = true;
  private readonly crashes = new CrashTracker();
  readonly history: HistoryEntry[] = [];
  private nextId = 1;
  private readonly stats = new Map<string, StatsSample[]>();
  private polling?: Promise<void>;
  private readonly pollMs: number;
  private readonly statsMs: number;
  private readonly keep: number;

  constructor(private readonly deps: HubDeps) {
    // watched: the records' changes come as they happen, the fingerprint is only the safety net.
    // Polled: 150 ms, a change reaches the page within ~250 ms for a few stats a look.
    this.pollMs = deps.pollMs ?? (deps.watch ? 5000 : 150);
    this.statsMs = deps.statsMs ?? 2000;
    this.keep = deps.keep ?? 90;
  }

  get engine(): HubDeps['engine'] {
    return this.deps.engine;
  }

  get project(): string {
    return this.deps.project;
  }

  /** A page's stream: it gets a snapshot first, then every change. Returns the unsubscribe. */
  async subscribe(l: Listener): Promise<() => void> {
    // fresh state for the first page (nobody was looking: what the hub holds may be old)
    if (this.listeners.size === 0) await this.refresh(true);
    const snap = await this.snapshot();
    l({ type: 'snapshot', data: snap });
    this.listeners.add(l);
    if (this.listeners.size === 1 && !this.timer) this.start();
    return () => {
      this.listeners.delete(l);
      if (this.listeners.size === 0) this.stop();
    };
  }

  get listening(): number {
    return this.listeners.size;
  }

  private emit(type: string, data: unknown): void {
    for (const l of this.listeners) {
      try {
        l({ type, data });
      } catch { /* a page gone mid-write: its stream's close unsubscribes it */ }
    }
  }

  async snapshot(): Promise<{ project: string; services: ServiceView[]; plan?: PlanView; history: HistoryEntry[]; stats: Record<string, StatsSample[]> }> {
    if (!this.digest) await this.refresh(true);
    return { project: this.project, services: this.services, plan: await this.currentPlan(), history: this.history, stats: Object.fromEntries(this.stats) };
  }

  containerById(id: string): ContainerInfo | undefined {
    return this.containers.find((c) => c.id === id || c.name === id);
  }

  /** The project's container with this id or name, asked of the engine (not the last poll). */
  async ownContainer(idOrName: string): Promise<ContainerInfo | undefined> {
    const c = await this.deps.engine.containers.inspect(idOrName);
    return c && c.labels[LABEL.project] === this.project ? c : undefined;
  }

  private gen = 0;

  private start(): void {
    // one loop of each: a loop of an earlier start (its last look still in flight) ends at its next turn
    const gen = ++this.gen;
    this.watching = this.deps.watch?.(() => this.kick());
    this.deps.sampler?.reset();
    if (this.deps.sampler) this.deps.sampler.sample(this.containers); // the CPU baselines of the first samples
    const tick = () => {
      this.timer = setTimeout(async () => {
        await this.refresh(false).catch(() => {});
        if (this.listeners.size && gen === this.gen) tick();
      }, this.pollMs);
    };
    tick();
    const stats = () => {
      this.statsTimer = setTimeout(async () => {
        await this.sampleStats().catch(() => {});
        if (this.listeners.size && gen === this.gen) stats();
      }, this.statsMs);
    };
    stats();
  }

  private stop(): void {
    clearTimeout(this.timer);
    clearTimeout(this.statsTimer);
    clearTimeout(this.kickTimer);
    clearTimeout(this.settleTimer);
    this.timer = this.statsTimer = this.kickTimer = this.settleTimer = undefined;
    this.watching?.close();
    this.watching = undefined;
  }

  /**
   * A record changed: the containers are listed once the burst is over (a restart renames state.json
   * a few times within milliseconds). A look already under way may have read before the change, so
   * this one waits for it and looks afresh.
   */
  private kick(): void {
    if (this.kickTimer || !this.listeners.size) return;
    this.kickTimer = setTimeout(async () => {
      await this.polling?.catch(() => {});
      this.kickTimer = undefined;
      if (this.listeners.size) await this.refresh('event').catch(() => {});
    }, 10);
  }

  /**
   * Looks at the engine once and emits what changed: `true` lists the containers and reloads the stack,
   * `false` (a poll) lists them when the fingerprint moved, `'event'` (a record changed) lists them.
   */
  refresh(force: boolean | 'event'): Promise<void> {
    this.polling ??= this.look(force).finally(() => { this.polling = undefined; });
    return this.polling;
  }

  private async look(mode: boolean | 'event'): Promise<void> {
    const force = mode === true;
    if (mode !== 'event') {
      // with the pids of the last look, a fingerprint is only stats and /proc reads (no state file is read)
      const fp = await this.deps.engine.stateFingerprint(this.pids ? { pids: this.pids } : undefined);
      // a racy fingerprint may hide a change made within its stamps' resolution: look once more next time
      const changed = force || fp.digest !== this.digest || this.recheck;
      this.recheck = fp.racy;
      this.digest = fp.digest;
      // after a change the monitors may be others: their pids are read afresh next time
      this.pids = changed ? undefined : fp.pids;
      if (!changed && !this.crashes.pending) return;
    }
    if (force || !this.modelRead) {
      this.model = await this.deps.model().catch(() => this.model);
      this.modelRead = true; // without a stack file too: asked again only when forced
    }
    this.containers = await this.deps.engine.containers.list({ [LABEL.project]: this.project });
    const crashed = this.crashes.update(this.containers);
    // a crash mark without a healthcheck settles with time, which no record shows: look again then
    if (this.deps.watch && this.crashes.pending && !this.settleTimer && this.listeners.size) {
      this.settleTimer = setTimeout(() => {
        this.settleTimer = undefined;
        this.kick();
      }, 500);
    }
    this.services = servicesView(this.model, this.containers, crashed);
    const json = JSON.stringify(this.services);
    if (json === this.servicesJson) return;
    this.servicesJson = json;
    this.planDirty = true;
    this.emit('services', this.services);
  }

  private async sampleStats(): Promise<void> {
    const running = this.containers.filter((c) => c.status === 'running');
    const t = Date.now();
    const out: Record<string, StatsSample> = this.deps.sampler?.sample(this.containers) ?? {};
    for (const [id, sample] of Object.entries(out)) this.keepSample(id, sample);
    const engine = this.deps.engine.containers;
    if (!this.deps.sampler && engine.stats) await Promise.all(running.map(async (c) => {
      let s: ContainerStats;
      try {
        s = await engine.stats!(c.id);
      } catch {
        return; // stopped between the list and the read
      }
      const sample: StatsSample = { t, cpu: s.cpuPercent, mem: s.memoryUsage, pids: s.pids, rx: s.netRx, tx: s.netTx };
      if (s.memoryLimit) sample.memLimit = s.memoryLimit;
      this.keepSample(c.id, sample);
      out[c.id] = sample;
    }));
    for (const id of [...this.stats.keys()]) if (!this.containers.some((c) => c.id === id)) this.stats.delete(id);
    if (Object.keys(out).length) this.emit('stats', out);
  }

  private keepSample(id: string, sample: StatsSample): void {
    const kept = this.stats.get(id) ?? [];
    kept.push(sample);
    if (kept.length > this.keep) kept.splice(0, kept.length - this.keep);
    this.stats.set(id, kept);
  }

  async currentPlan(): Promise<PlanView | undefined> {
    if (this.planDirty || !this.planView) {
      this.planDirty = false;
      try {
        this.planView = await this.deps.plan();
      } catch (e) {
        this.planView = { text: `the plan could not be made: ${e instanceof Error ? e.message : String(e)}`, empty: true, warnings: [], problems: [], at: new Date().toISOString() };
      }
    }
    return this.planView;
  }

  /** Makes the plan again (the stack file changed, a reconcile ended) and sends it. */
  async replan(): Promise<PlanView | undefined> {
    this.planDirty = true;
    const p = await this.currentPlan();
    this.emit('plan', p);
    return p;
  }

  /** Records a reconcile in the history and reports its progress to the pages. */
  begin(trigger: string): ReconcileReport {
    const started = Date.now();
    const entry: HistoryEntry = { id: this.nextId++, trigger, started: new Date(started).toISOString(), state: 'running' };
    this.history.push(entry);
    if (this.history.length > 200) this.history.shift();
    this.emit('history', entry);
    return {
      plan: (text) => {
        entry.plan = text;
        this.emit('history', entry);
      },
      done: (r) => {
        entry.state = r.failed.length ? 'failed' : 'done';
        entry.durationMs = Date.now() - started;
        if (r.failed.length) entry.failed = r.failed;
        if (r.warnings.length) entry.warnings = r.warnings;
        this.emit('history', entry);
        void this.refresh(true).then(() => this.replan()).catch(() => {});
      },
    };
  }

  close(): void {
    this.listeners.clear();
    this.stop();
  }
}
