// execute(): runs a graph of steps, each once its prerequisites are over, with
// bounded parallelism per pool. Generic: it knows nothing of containers — apply.ts
// turns a Plan's steps into these nodes. Every node gets exactly one outcome.
//
// Edges come in two strengths: `dependsOn` (the node runs only if those
// succeeded; else it is skipped, naming the one that did not) and `after` (it
// waits for them to be over, whatever their outcome). A failure skips the
// failed node's dependents; with `keepGoing` unset it also stops scheduling
// anything else (nodes already running finish), so the rest is `cancelled`.
// An aborted signal does the same and is passed to the running nodes.

export interface ExecNode<T = unknown> {
  id: string;
  /** Must have succeeded first. */
  dependsOn?: string[];
  /** Must be over first, whatever the outcome. */
  after?: string[];
  /** Which bound applies (default `default`); a pool without a limit is unbounded. */
  pool?: string;
  run(ctx: RunContext): Promise<T>;
}

export interface RunContext {
  signal: AbortSignal;
  /** The outcome of a node already over (a prerequisite's, typically). */
  outcome(id: string): Outcome | undefined;
}

export type Outcome<T = unknown> =
  | { id: string; state: 'done'; value: T }
  | { id: string; state: 'failed'; error: unknown }
  /** A `dependsOn` prerequisite did not succeed: `because` names it. */
  | { id: string; state: 'skipped'; because: string }
  /** Never started: the run was aborted, or stopped after a failure. */
  | { id: string; state: 'cancelled' };

export interface ExecOptions {
  /** Nodes of the default pool running at once (default 4). */
  parallel?: number;
  /** Limits of other pools; a pool not named here is unbounded. */
  pools?: Record<string, number>;
  /** Go on with what does not depend on a failed node (default: stop scheduling at the first failure). */
  keepGoing?: boolean;
  signal?: AbortSignal;
  onStart?(id: string): void;
  onSettle?(o: Outcome): void;
}

/** Runs `nodes`; resolves (never rejects) with every node's outcome, in the order of `nodes`. */
export async function execute(nodes: ExecNode[], opts: ExecOptions = {}): Promise<Map<string, Outcome>> {
  const index = new Map<string, number>();
  nodes.forEach((n, i) => {
    if (index.has(n.id)) throw new Error(`execute: duplicate node id ${n.id}`);
    index.set(n.id, i);
  });
  const pending = new Array<number>(nodes.length).fill(0);
  const users: number[][] = nodes.map(() => []);
  nodes.forEach((n, i) => {
    for (const p of new Set([...(n.dependsOn ?? []), ...(n.after ?? [])])) {
      const j = index.get(p);
      if (j === undefined) throw new Error(`execute: node ${n.id} waits for unknown node ${p}`);
      pending[i]++;
      users[j].push(i);
    }
  });
  if (hasCycle(pending, users)) throw new Error('execute: the graph has a cycle');

  const limits = new Map<string, number>([['default', Math.max(1, opts.parallel ?? 4)]]);
  for (const [k, v] of Object.entries(opts.pools ?? {})) limits.set(k, Math.max(1, v));
  const busy = new Map<string, number>();
  const outcomes = new Map<string, Outcome>();
  const ready: number[] = []; // kept sorted: ties start in the order of `nodes`
  const inner = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, inner.signal]) : inner.signal;
  let stopped = false;
  let running = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => { finish = r; });
  const ctx: RunContext = { signal, outcome: (id) => outcomes.get(id) };

  const settle = (i: number, o: Outcome) => {
    outcomes.set(o.id, o);
    opts.onSettle?.(o);
    if (o.state === 'failed' && !opts.keepGoing) stopped = true;
    for (const u of users[i]) if (--pending[u] === 0) becomeReady(u);
  };
  const becomeReady = (i: number) => {
    const n = nodes[i];
    const bad = (n.dependsOn ?? []).find((d) => outcomes.get(d)!.state !== 'done');
    if (bad !== undefined && outcomes.get(bad)!.state === 'cancelled') return settle(i, { id: n.id, state: 'cancelled' });
    if (bad !== undefined) return settle(i, { id: n.id, state: 'skipped', because: bad });
    if (stopped || signal.aborted) return settle(i, { id: n.id, state: 'cancelled' });
    let at = ready.length;
    while (at > 0 && ready[at - 1] > i) at--;
    ready.splice(at, 0, i);
  };
  const pump = () => {
    for (let k = 0; k < ready.length;) {
      const i = ready[k];
      const n = nodes[i];
      if (stopped || signal.aborted) {
        ready.splice(k, 1);
        settle(i, { id: n.id, state: 'cancelled' });
        k = 0;
        continue;
      }
      const pool = n.pool ?? 'default';
      const limit = limits.get(pool) ?? Infinity;
      if ((busy.get(pool) ?? 0) >= limit) {
        k++;
        continue;
      }
      ready.splice(k, 1);
      busy.set(pool, (busy.get(pool) ?? 0) + 1);
      running++;
      opts.onStart?.(n.id);
      void Promise.resolve().then(() => n.run(ctx)).then(
        (value) => ({ id: n.id, state: 'done', value }) as Outcome,
        // a node that gave up because the run was aborted is not done, not failed
        (error) => (signal.aborted && (error === signal.reason || (error as Error | undefined)?.name === 'AbortError')
          ? { id: n.id, state: 'cancelled' } : { id: n.id, state: 'failed', error }) as Outcome,
      ).then((o) => {
        busy.set(pool, busy.get(pool)! - 1);
        running--;
        settle(i, o);
        pump();
      });
    }
    if (running === 0 && outcomes.size === nodes.length) finish();
  };
  const onAbort = () => pump();
  signal.addEventListener('abort', onAbort);
  nodes.forEach((_, i) => { if (pending[i] === 0) becomeReady(i); });
  pump();
  await finished;
  signal.removeEventListener('abort', onAbort);
  inner.abort();
  return new Map(nodes.map((n) => [n.id, outcomes.get(n.id)!]));
}

/** Kahn's count: a node never freed is on (or behind) a cycle. */
function hasCycle(pending: number[], users: number[][]): boolean {
  const left = [...pending];
  const queue = left.flatMap((p, i) => (p === 0 ? [i] : []));
  let seen = 0;
  while (queue.length) {
    const i = queue.pop()!;
    seen++;
    for (const u of users[i]) if (--left[u] === 0) queue.push(u);
  }
  return seen !== pending.length;
}

/** The failed node at the root of a skip (itself when it failed); undefined when nothing failed. */
export function rootCause(outcomes: Map<string, Outcome>, id: string): Extract<Outcome, { state: 'failed' }> | undefined {
  const seen = new Set<string>();
  let o = outcomes.get(id);
  while (o && o.state === 'skipped' && !seen.has(o.id)) {
    seen.add(o.id);
    o = outcomes.get(o.because);
  }
  return o?.state === 'failed' ? o : undefined;
}
