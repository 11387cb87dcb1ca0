// Output helpers: plain progress lines for apply events, tables, colours.
// Plain lines are the contract for scripts and logs (one line per state
// change); on a terminal the same events drive a live view.

import type { ApplyEvent } from '../reconcile/apply.js';
import type { Io } from './context.js';
import { isTerminal } from '../util/terminal.js';

const COLOURS = [36, 33, 32, 35, 34, 96, 93, 92, 95, 94];

export function colour(s: string, i: number, on: boolean): string {
  return on ? `\x1b[${COLOURS[i % COLOURS.length]}m${s}\x1b[0m` : s;
}

/** Columns padded to the widest cell; the last column is not padded. */
export function table(rows: string[][]): string {
  if (!rows.length) return '';
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]))).join('   ').trimEnd()).join('\n');
}

const VERB: Record<string, string> = {
  'create-network': 'Creating network', 'create-volume': 'Creating volume', pull: 'Pulling', build: 'Building',
  remove: 'Removing', 'remove-orphan': 'Removing orphan', create: 'Creating', recreate: 'Recreating', start: 'Starting', restart: 'Restarting',
  stop: 'Stopping', 'remove-network': 'Removing network', 'remove-volume': 'Removing volume',
};
const DONE: Record<string, string> = {
  'create-network': 'Created network', 'create-volume': 'Created volume', pull: 'Pulled', build: 'Built',
  remove: 'Removed', 'remove-orphan': 'Removed orphan', create: 'Created', recreate: 'Recreated', start: 'Started', restart: 'Restarted',
  stop: 'Stopped', 'remove-network': 'Removed network', 'remove-volume': 'Removed volume',
};

/** One line per event: `<resource>  <Verb>[ (cause)]`. */
export function eventLine(e: ApplyEvent): string | undefined {
  switch (e.state) {
    case 'running':
      return `${e.resource}  ${VERB[e.action] ?? e.action}${e.message ? ` (${e.message})` : ''}`;
    case 'done':
      return `${e.resource}  ${DONE[e.action] ?? `${e.action} done`}`;
    case 'failed':
      return `${e.resource}  ${VERB[e.action] ?? e.action} failed: ${e.message ?? ''}`;
    case 'skipped':
      return `${e.resource}  ${e.action} skipped: ${e.message ?? ''}`;
    case 'waiting':
      return `${e.resource}  ${e.message ?? 'waiting'}`;
  }
}

export interface Progress {
  event(e: ApplyEvent): void;
  line(s: string): void;
  /** Resolves when the view is finished drawing. */
  done(): Promise<void> | void;
}

/** Plain lines to stderr (stdout stays clean for --format json). */
export function plainProgress(io: Io, quiet = false): Progress {
  return {
    event: (e) => {
      if (quiet && e.state !== 'failed') return;
      const l = eventLine(e);
      if (l) io.err(l);
    },
    line: (s) => { if (!quiet) io.err(s); },
    done: () => {},
  };
}

export function progressFor(io: Io, opts: { quiet?: boolean } = {}): Progress {
  return plainProgress(io, opts.quiet);
}

/** Whether to draw a live view (listr2): a terminal on both stdout and stderr. */
export function liveView(io: Io): boolean {
  return io.tty && isTerminal(2);
}

/**
 * listr2's live view on a terminal, one task per action of the plan. Tasks end
 * on the action's last step (`start` for containers unless nothing is started);
 * events for resources the first plan did not name are printed after it.
 */
export function listrProgress(Listr: typeof import('listr2').Listr, io: Io, plan: import('../reconcile/plan.js').Plan, opts: { noStart?: boolean } = {}): Progress {
  // One state per resource, made before listr runs so no early event is lost;
  // the task adopts whatever title the state has when listr starts it.
  interface State { title: string; output?: string; settled: boolean; failed?: string; done: Promise<void>; resolve: () => void; task?: { title: string; output: string } }
  const states = new Map<string, State>();
  const later: string[] = [];
  for (const a of plan.actions) {
    if (states.has(a.resource)) continue;
    let resolve!: () => void;
    const done = new Promise<void>((r) => { resolve = r; });
    states.set(a.resource, { title: `${a.resource}  ${VERB[a.type] ?? a.type} (${a.cause})`, settled: false, done, resolve });
  }
  const list = new Listr([...states.entries()].map(([, st]) => ({
    title: st.title,
    task: async (_ctx: unknown, task: { title: string; output: string }) => {
      st.task = task;
      task.title = st.title;
      if (st.output) task.output = st.output;
      await st.done;
      task.title = st.title;
      if (st.failed) throw new Error(st.failed);
    },
  })), { concurrent: true, exitOnError: false, rendererOptions: { collapseErrors: false } });
  const run = list.run().catch(() => {});
  const terminal = (resource: string, action: string) => {
    if (!resource.startsWith('service:')) return true;
    return opts.noStart ? action === 'create' || action === 'recreate' : action === 'start';
  };
  return {
    event: (e) => {
      const st = states.get(e.resource);
      const line = eventLine(e) ?? e.resource;
      if (!st) {
        if (e.state !== 'running') later.push(line);
        return;
      }
      if (st.settled) return;
      if (e.state === 'waiting') {
        st.output = line;
        if (st.task) st.task.output = line;
        return;
      }
      st.title = line;
      if (st.task) st.task.title = line;
      if (e.state === 'failed' || e.state === 'skipped') {
        st.failed = line;
        st.settled = true;
        st.resolve();
      } else if (e.state === 'done' && terminal(e.resource, e.action)) {
        st.settled = true;
        st.resolve();
      }
    },
    line: (s) => later.push(s),
    done: async () => {
      for (const st of states.values()) if (!st.settled) { st.settled = true; st.resolve(); }
      await run;
      for (const l of later) io.err(l);
    },
  };
}
