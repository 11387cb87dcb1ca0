// The backend of `tsstack ui`: each plan, apply and container action is a
// short-lived worker child (worker.ts) that loads the engine, the stack and the
// reconciler, does it, answers in JSON lines and ends; the server keeps none of
// them (its budget is 50 MiB RSS: bench/ui.sh). A plan and the stack's outline
// come from the same child.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { GlobalOptions } from '../cli/context.js';
import type { ContainerInfo } from '../engine/api.js';
import type { PlanView } from './hub.js';
import type { Backend } from './local.js';
import type { ModelOutline } from './view.js';
import type { WorkerLine, WorkerOp, WorkerRequest } from './worker.js';

const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));

export interface ChildOptions {
  g: GlobalOptions;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Where the child's error goes as well (its rendered message): `describe` shows it to the user. */
  onStderr?: (s: string) => void;
}

export interface WorkerResult { code: number; lines: WorkerLine[]; stderr: string }

/** Runs one worker; `each` sees each answer line as it comes. */
export function runWorker(o: ChildOptions, op: WorkerOp, id?: string, each?: (l: WorkerLine) => void): Promise<WorkerResult> {
  const req: WorkerRequest = { g: o.g, op, ...(id !== undefined ? { id } : {}) };
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [WORKER, JSON.stringify(req)], { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: WorkerLine[] = [];
    let buf = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!line.trim()) continue;
        try {
          const l = JSON.parse(line) as WorkerLine;
          lines.push(l);
          each?.(l);
        } catch { /* not ours: a stray print of a library */ }
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 64 << 10) stderr += d;
      o.onStderr?.(d);
    });
    child.on('error', (e) => resolve({ code: 127, lines, stderr: e.message }));
    child.on('close', (code) => resolve({ code: code ?? 1, lines, stderr }));
  });
}

/** The child's error as one message (its rendered text without the `error:` label). */
function failure(r: WorkerResult, what: string): Error {
  const msg = r.stderr.trim().replace(/^error:\s*/, '') || `${what} ended with exit code ${r.code}`;
  return new Error(msg);
}

function pick<K extends string>(lines: WorkerLine[], key: K): any {
  const l = lines.find((x) => key in x) as Record<K, unknown> | undefined;
  return l?.[key];
}

/** A backend whose every call runs a worker child. A plan and the outline made within `reuseMs` of each other share one child. */
export function childBackend(o: ChildOptions, reuseMs = 2000): Backend {
  let last: { at: number; run: Promise<WorkerResult> } | undefined;
  const look = () => {
    if (!last || Date.now() - last.at > reuseMs) last = { at: Date.now(), run: runWorker(o, 'plan') };
    return last.run;
  };
  const act = async (op: 'restart' | 'stop' | 'start', c: ContainerInfo) => {
    const r = await runWorker(o, op, c.id);
    if (r.code !== 0 || !pick(r.lines, 'ok')) throw failure(r, op);
  };
  return {
    outline: async () => {
      const r = await look();
      const v = pick(r.lines, 'outline') as ModelOutline | null | undefined;
      if (v === undefined) throw failure(r, 'the stack');
      return v ?? undefined;
    },
    plan: async () => {
      const r = await look();
      const v = pick(r.lines, 'plan') as PlanView | undefined;
      if (!v) throw failure(r, 'the plan');
      return v;
    },
    apply: async (report) => {
      const r = await runWorker(o, 'apply', undefined, (l) => {
        if ('applyPlan' in l) report.plan(l.applyPlan);
      });
      last = undefined; // what a later plan says changed
      const done = pick(r.lines, 'done') as { failed: string[]; warnings: string[] } | undefined;
      report.done(done ?? { failed: [failure(r, 'the reconcile').message], warnings: [] });
    },
    restart: (c) => act('restart', c),
    stop: (c) => act('stop', c),
    start: (c) => act('start', c),
  };
}
