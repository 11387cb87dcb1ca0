// `tsstack ui [-p PORT]`: serves the dashboard (src/ui/) from this process
// until Ctrl-C; prints the URL with its token. Nothing runs when it does not.
// The server reads the containers' records itself; the stack, the plan and
// every action are a short-lived child's (src/ui/child.ts), so this process
// never loads the engine, the stack loader or the reconciler.

import { TsstackError } from '../../util/errors.js';
import { untilInterrupted, type Context } from '../context.js';

export async function runUi(ctx: Context, o: { port?: number }): Promise<number> {
  if (o.port !== undefined && o.port > 65535) throw new TsstackError('USAGE', `--port: not a port: ${o.port}`);
  const { childBackend, runWorker } = await import('../../ui/child.js');
  const child = { g: ctx.g, env: ctx.io.env, cwd: ctx.io.cwd };
  // the project and the stack's outline, and a broken stack file reported as `tsstack config` would
  const first = await runWorker({ ...child, onStderr: (s) => ctx.io.err(s.replace(/\n$/, '')) }, 'describe');
  const d = first.lines.find((l) => 'describe' in l);
  if (first.code !== 0 || !d || !('describe' in d)) return first.code || 70;
  const { project, root, runRoot } = d.describe;
  const { serveDashboard } = await import('../../ui/dashboard.js');
  const { recordsSource } = await import('../../ui/records.js');
  const backend = childBackend(child);
  let dash;
  try {
    dash = await serveDashboard({ project, root, source: recordsSource(root, runRoot), backend, g: ctx.g, env: ctx.io.env, port: o.port });
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
