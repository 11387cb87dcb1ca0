// The dashboard wired together: the hub over a source of container state, the
// server, and a backend for what plans or changes the stack (local.ts). Two
// ways in: `tsstack ui` reads the engine's records itself (records.ts) and runs
// each plan, apply and action in a child (child.ts), so its server holds only
// HTTP, the event streams, the hub and the cgroup sampler; `up --watch --ui`
// (openDashboard) asks the engine, stack and reconciler its process already has.
// Exec and the terminal run `tsstack exec` itself as a child either way (the
// engine's exec gives the caller's stdio to the process; a child with its own
// pipes, or a pty from script(1), is how a page gets the bytes).

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { quote } from 'shell-quote';
import type { ContainerInfo, Engine } from '../engine/api.js';
import { LABEL } from '../engine/api.js';
import type { Plan } from '../reconcile/plan.js';
import type { UpOptions } from '../reconcile/up.js';
import type { Context, GlobalOptions } from '../cli/context.js';
import type { UiActions } from './app.js';
import { watchContainers } from './changes.js';
import { localBackend, planText, type Backend } from './local.js';
import { CgroupSampler } from './stats.js';
import { Hub, type HubEngine } from './hub.js';
import { startServer, type ShellSession, type UiServer } from './server.js';

export { planText } from './local.js';

const BIN = fileURLToPath(new URL('../../../bin/tsstack.js', import.meta.url));

export interface Dashboard {
  url: string;
  hub: Hub;
  server: UiServer;
  /** A reconcile made elsewhere (watch mode), shown in the history: its trigger, plan and outcome. */
  reconcile(trigger: string): { plan(p: Plan): void; done(failed: string[], warnings: string[]): void };
  close(): Promise<void>;
}

export interface ServeOptions {
  project: string;
  /** The engine root whose containers' records the change watch follows. */
  root: string;
  /** Container state: the engine, or its records read directly (records.ts). */
  source: HubEngine;
  backend: Backend;
  /** The CLI's global options, for the `tsstack exec` children. */
  g: GlobalOptions;
  env: NodeJS.ProcessEnv;
  port?: number;
}

/** The dashboard of `project`, served until closed. */
export async function serveDashboard(o: ServeOptions): Promise<Dashboard> {
  const { project, backend, env } = o;
  // TSSTACK_UI_POLL_MS / TSSTACK_UI_STATS_MS: the safety look and the charts' period while a page is open (bench/ui.sh)
  const ms = (v: string | undefined) => (v && Number(v) > 0 ? Number(v) : undefined);
  const hub = new Hub({
    engine: o.source, project, model: () => backend.outline(), plan: () => backend.plan(),
    watch: (onChange) => watchContainers(o.root, onChange),
    sampler: new CgroupSampler(),
    pollMs: ms(env.TSSTACK_UI_POLL_MS), statsMs: ms(env.TSSTACK_UI_STATS_MS),
  });

  const globals = [...(o.g.root ? ['--root', o.g.root] : []), ...(o.g.runtime ? ['--runtime', o.g.runtime] : []), '-p', project];
  const execArgs = (c: ContainerInfo, flags: string[], argv: string[]) =>
    [BIN, ...globals, 'exec', ...flags, '--index', c.labels[LABEL.number] ?? '1', c.labels[LABEL.service] ?? '', ...argv];

  const actions: UiActions = {
    restart: (c) => backend.restart(c),
    stop: (c) => backend.stop(c),
    start: (c) => backend.start(c),
    exec: (c, command) => new Promise((resolve) => {
      const child = spawn(process.execPath, execArgs(c, ['-T'], ['sh', '-c', command]), { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const chunks: Buffer[] = [];
      let size = 0;
      const keep = (d: Buffer) => {
        if (size < 1 << 20) chunks.push(d);
        size += d.length;
      };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        const output = Buffer.concat(chunks).toString('utf8') + (size > 1 << 20 ? '\n(output cut at 1 MiB)' : '');
        resolve({ code: code ?? (signal === 'SIGKILL' ? 137 : 1), output });
      });
      child.on('error', (e) => {
        clearTimeout(timer);
        resolve({ code: 127, output: e.message });
      });
    }),
    apply: () => backend.apply(hub.begin('dashboard: apply')),
  };

  // A pty for `tsstack exec -it … sh` from script(1), so the shell sees a terminal.
  const shell = (c: ContainerInfo): ShellSession => {
    const cmd = quote([process.execPath, ...execArgs(c, ['-i', '-t'], ['sh'])]);
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env: { ...env, TERM: 'xterm-256color' }, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.on('error', () => {});
    return {
      write: (d) => { if (child.stdin.writable) child.stdin.write(d); },
      onData: (f) => { child.stdout.on('data', f); child.stderr.on('data', f); },
      onExit: (f) => { child.on('close', (code) => f(code)); },
      kill: () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGHUP'); },
    };
  };

  const server = await startServer({ hub, actions, shell, port: o.port });
  return {
    url: server.url, hub, server,
    reconcile: (trigger) => {
      const r = hub.begin(trigger);
      return { plan: (p) => r.plan(planText(p, project)), done: (failed, warnings) => r.done({ failed, warnings }) };
    },
    close: () => server.close(),
  };
}

export interface DashboardOptions {
  ctx: Context;
  engine: Engine;
  project: string;
  /** The reconcile the apply button runs (the options of `up -d`, or of the watch that started it). */
  upOptions: UpOptions;
  /** Whether a stack file is at hand (without one there is no plan). */
  hasStack: boolean;
  port?: number;
}

/** The dashboard of a process that has the engine open (`up --watch --ui`): it asks that engine. */
export async function openDashboard(o: DashboardOptions): Promise<Dashboard> {
  return serveDashboard({
    project: o.project, root: o.engine.root, source: o.engine, g: o.ctx.g, env: o.ctx.io.env, port: o.port,
    backend: localBackend(o.ctx, o.engine, o.upOptions, o.hasStack),
  });
}
