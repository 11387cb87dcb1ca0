// `tsstack ui [-p PORT]`: serves the dashboard (src/ui/) from this process
// until Ctrl-C; prints the URL with its token. Nothing runs when it does not.

import { TsstackError } from '../../util/errors.js';
import { untilInterrupted, type Context } from '../context.js';

export async function runUi(ctx: Context, o: { port?: number }): Promise<number> {
  if (o.port !== undefined && o.port > 65535) throw new TsstackError('USAGE', `--port: not a port: ${o.port}`);
  const model = await ctx.maybeModel();
  const project = model?.name ?? (await ctx.projectName());
  const engine = await ctx.openEngine();
  const { reconcileOpts } = await import('./up.js');
  const { openDashboard } = await import('../../ui/dashboard.js');
  const upOptions = model ? await reconcileOpts(ctx, model, [], {}) : {};
  let dash;
  try {
    dash = await openDashboard({ ctx, engine, project, upOptions, hasStack: !!model, port: o.port });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new TsstackError('CONFLICT', `port ${o.port} on 127.0.0.1 is in use`, { hint: 'choose another with -p PORT, or leave it out for any free port' });
    throw e;
  }
  ctx.io.out(`dashboard: ${dash.url}`);
  ctx.io.err(`ui: serving project ${project} on 127.0.0.1:${dash.server.port} (Ctrl-C to stop)`);
  await untilInterrupted();
  await dash.close();
  return 0;
}
