// `tsstack config`: the spec engineer's runConfig (src/cli/commands/config.ts),
// given the global options.

import { TsstackError } from '../../util/errors.js';
import type { Context } from '../context.js';

type RunConfig = (opts: Record<string, unknown>, out: (s: string) => void) => Promise<number>;

export async function runConfigCommand(ctx: Context, o: { format?: string; services?: boolean; volumes?: boolean; profiles?: boolean; quiet?: boolean }): Promise<number> {
  let runConfig: RunConfig | undefined;
  try {
    const path = './config.js'; // spec/'s module; a variable so this compiles before it lands
    runConfig = ((await import(path)) as { runConfig?: RunConfig }).runConfig;
  } catch (e) {
    throw new TsstackError('HOST', '`config` is not available yet in this build of tsstack', { cause: e });
  }
  if (!runConfig) throw new TsstackError('HOST', '`config` is not available yet in this build of tsstack');
  const g = ctx.g;
  return runConfig({
    files: g.file, projectName: g.projectName ?? ctx.io.env.TSSTACK_PROJECT_NAME, projectDir: g.projectDirectory, envFiles: g.envFile, profiles: g.profile,
    format: o.format, services: o.services, volumes: o.volumes, profilesOnly: o.profiles, quiet: o.quiet, env: { ...ctx.io.env }, cwd: ctx.io.cwd,
  }, (s) => ctx.io.out(s.replace(/\n$/, '')));
}
