// `up --watch`: the CLI's WatchHost for src/watch/session.ts — reload the model
// with the same global options, reconcile with the same options as the `up`
// that started it, and carry out live syncs through the engine.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '../engine/api.js';
import { LABEL } from '../engine/api.js';
import type { StackModel } from '../model/types.js';
import type { UpOptions } from '../reconcile/up.js';
import { Context, onInterrupt } from './context.js';
import { renderError } from './errors.js';

/** `.dockerignore` patterns of a build context (comments and blanks dropped). */
function ignorePatterns(context: string): string[] {
  const f = join(context, '.dockerignore');
  if (!existsSync(f)) return [];
  return readFileSync(f, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
}

export async function runWatch(ctx: Context, engine: Engine, model: StackModel, opts: UpOptions): Promise<number> {
  const { startWatch } = await import('../watch/session.js');
  const { watchPaths } = await import('../watch/fs-watch.js');
  const { minimatch } = await import('minimatch');
  const { up } = await import('../reconcile/up.js');
  let current = model;
  const session = await startWatch({
    load: async () => {
      current = await new Context(ctx.g, ctx.io).loadModel();
      return current;
    },
    reconcile: async (m, rebuild) => {
      const r = await ctx.locked(m.name, () => up(engine, m, { ...opts, services: opts.services, build: rebuild.length > 0 ? true : opts.build }));
      for (const f of r.result.failed) ctx.io.err(`watch: ${f.resource}: ${f.message}`);
    },
    runningContainers: async (service) => (await engine.containers.list({ [LABEL.project]: current.name, [LABEL.service]: service }))
      .filter((c) => c.status === 'running' && c.labels[LABEL.oneoff] !== 'True').map((c) => c.id),
    copyInto: (id, host, target) => engine.containers.copy(id, host, target, 'in'),
    removeIn: async (id, target) => {
      await engine.containers.exec(id, ['rm', '-rf', '--', target], {});
    },
    exec: (id, argv, o) => engine.containers.exec(id, argv, { user: o.user, cwd: o.cwd, env: o.env }),
    restart: async (id) => {
      await engine.containers.stop(id);
      await engine.containers.start(id);
    },
    dockerignored: (service, rel) => {
      const ctxDir = current.services[service]?.build?.context;
      if (!ctxDir) return false;
      let ignored = false;
      for (const p of ignorePatterns(ctxDir)) {
        const neg = p.startsWith('!');
        const pat = neg ? p.slice(1) : p;
        if (minimatch(rel, pat, { dot: true }) || minimatch(rel, `${pat}/**`, { dot: true })) ignored = !neg;
      }
      return ignored;
    },
    watch: watchPaths,
    info: (l) => ctx.io.err(`watch: ${l}`),
    error: (e) => ctx.io.err(renderError(e, ctx.debug)),
  }, { initialModel: model });
  ctx.io.err('watch: watching for changes (Ctrl-C to stop watching; the stack keeps running)');
  await new Promise<void>((resolve) => onInterrupt(() => resolve()));
  onInterrupt(undefined);
  await session.stop();
  return 0;
}
