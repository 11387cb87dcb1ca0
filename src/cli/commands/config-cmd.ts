// `tsstack config`: the spec engineer's runConfig (src/cli/commands/config.ts),
// given the global options.

import type { Context } from '../context.js';

export async function runConfigCommand(ctx: Context, o: { format?: string; services?: boolean; volumes?: boolean; profiles?: boolean; quiet?: boolean; explain?: string | boolean }): Promise<number> {
  const { runConfig } = await import('./config.js');
  const g = ctx.g;
  return runConfig({
    files: g.file, projectName: g.projectName ?? ctx.io.env.TSSTACK_PROJECT_NAME, projectDir: g.projectDirectory, envFiles: g.envFile, profiles: g.profile,
    format: o.format, services: o.services, volumes: o.volumes, profilesOnly: o.profiles, quiet: o.quiet, env: { ...ctx.io.env }, cwd: ctx.io.cwd,
    explain: o.explain,
    // the same load through the context: an unchanged stack comes from the model cache (not for --explain, which watches the load)
    load: o.explain === undefined ? () => ctx.loadModel() : undefined,
  }, (s) => ctx.io.out(s.replace(/\n$/, '')));
}
