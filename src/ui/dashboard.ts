// The dashboard wired to the CLI: the hub asks the engine the CLI opened, the
// plan is `tsstack plan`'s, the apply button runs `up -d`'s reconcile under the
// project's lock, and exec and the terminal run `tsstack exec` itself as a child
// (the engine's exec gives the caller's stdio to the process; a child with its
// own pipes, or a pty from script(1), is how a page gets the bytes).

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { quote } from 'shell-quote';
import type { ContainerInfo, Engine } from '../engine/api.js';
import { LABEL } from '../engine/api.js';
import type { StackModel } from '../model/types.js';
import type { Plan } from '../reconcile/plan.js';
import type { UpOptions } from '../reconcile/up.js';
import { Context } from '../cli/context.js';
import type { UiActions } from './app.js';
import { watchContainers } from './changes.js';
import { CgroupSampler } from './stats.js';
import { Hub, type PlanView, type ReconcileReport } from './hub.js';
import { startServer, type ShellSession, type UiServer } from './server.js';

const BIN = fileURLToPath(new URL('../../../bin/tsstack.js', import.meta.url));

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

export interface Dashboard {
  url: string;
  hub: Hub;
  server: UiServer;
  /** A reconcile made elsewhere (watch mode), shown in the history: its trigger, plan and outcome. */
  reconcile(trigger: string): { plan(p: Plan): void; done(failed: string[], warnings: string[]): void };
  close(): Promise<void>;
}

/** `tsstack plan`'s text for a plan, with what each action waits for. */
export function planText(plan: Plan, project: string): string {
  return plan.empty ? `no changes: ${project} is up to date` : plan.lines({ edges: true }).join('\n');
}

export async function openDashboard(o: DashboardOptions): Promise<Dashboard> {
  const { ctx, engine, project } = o;
  // a fresh load each time: the files may have changed since the last look
  const load = async (): Promise<StackModel | undefined> => (o.hasStack ? new Context(ctx.g, ctx.io).loadModel() : undefined);
  const plan = async (): Promise<PlanView> => {
    const at = new Date().toISOString();
    const model = await load();
    if (!model) return { text: 'no stack file here: the plan needs one (run `tsstack ui` where the stack file is, or with -f)', empty: true, warnings: [], problems: [], at };
    const { makePlan } = await import('../reconcile/up.js');
    const { preflight } = await import('../reconcile/preflight.js');
    const p = (await makePlan(engine, model, o.upOptions)).plan;
    return { text: planText(p, model.name), empty: p.empty, warnings: [...p.warnings], problems: (await preflight(p, engine, model)).map((x) => x.message), at };
  };
  // TSSTACK_UI_POLL_MS / TSSTACK_UI_STATS_MS: the safety look and the charts' period while a page is open (bench/ui.sh)
  const ms = (v: string | undefined) => (v && Number(v) > 0 ? Number(v) : undefined);
  const hub = new Hub({
    engine, project, model: load, plan,
    watch: (onChange) => watchContainers(engine.root, onChange),
    sampler: new CgroupSampler(),
    pollMs: ms(ctx.io.env.TSSTACK_UI_POLL_MS), statsMs: ms(ctx.io.env.TSSTACK_UI_STATS_MS),
  });

  const globals = [...(ctx.g.root ? ['--root', ctx.g.root] : []), ...(ctx.g.runtime ? ['--runtime', ctx.g.runtime] : []), '-p', project];
  const execArgs = (c: ContainerInfo, flags: string[], argv: string[]) =>
    [BIN, ...globals, 'exec', ...flags, '--index', c.labels[LABEL.number] ?? '1', c.labels[LABEL.service] ?? '', ...argv];

  const actions: UiActions = {
    restart: async (c) => {
      await engine.containers.stop(c.id);
      await engine.containers.start(c.id);
    },
    stop: (c) => engine.containers.stop(c.id),
    start: (c) => engine.containers.start(c.id),
    exec: (c, command) => new Promise((resolve) => {
      const child = spawn(process.execPath, execArgs(c, ['-T'], ['sh', '-c', command]), { env: ctx.io.env, stdio: ['ignore', 'pipe', 'pipe'] });
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
    apply: async () => {
      await applyNow(hub.begin('dashboard: apply'));
    },
  };

  /** `up -d`'s reconcile under the project's lock, reported to the history. */
  const applyNow = async (report: ReconcileReport): Promise<void> => {
    try {
      const model = await load();
      if (!model) throw new Error('no stack file: nothing to apply');
      const { up } = await import('../reconcile/up.js');
      const r = await ctx.locked(model.name, () => up(engine, model, { ...o.upOptions, onPlan: (p) => report.plan(planText(p, model.name)) }));
      report.done({ failed: r.result.failed.map((f) => `${f.resource}: ${f.message}`), warnings: [...r.result.warnings] });
    } catch (e) {
      report.done({ failed: [e instanceof Error ? e.message : String(e)], warnings: [] });
    }
  };

  // A pty for `tsstack exec -it … sh` from script(1), so the shell sees a terminal.
  const shell = (c: ContainerInfo): ShellSession => {
    const cmd = quote([process.execPath, ...execArgs(c, ['-i', '-t'], ['sh'])]);
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env: { ...ctx.io.env, TERM: 'xterm-256color' }, stdio: ['pipe', 'pipe', 'pipe'] });
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
