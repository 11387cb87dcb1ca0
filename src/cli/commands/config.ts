// `tsstack config`: load the stack and print it normalized (or one of its lists).
// Returns the exit code; errors a user can cause are thrown as TsstackError
// for the CLI to render.

import { renderStack } from '../../stack/render.js';
import type { StackModel } from '../../model/types.js';
import { TsstackError } from '../../util/errors.js';

export interface ConfigOptions {
  files?: string[];
  projectName?: string;
  projectDir?: string;
  envFiles?: string[];
  profiles?: string[];
  format?: string;
  services?: boolean;
  volumes?: boolean;
  profilesOnly?: boolean;
  quiet?: boolean;
  /** Directory relative paths are resolved against (default: process.cwd()). */
  cwd?: string;
  /** Environment to interpolate from (default: process.env). */
  env?: Record<string, string | undefined>;
  /** Where warnings go (default: stderr). */
  warn?: (s: string) => void;
  /** Loads the model instead of stack/'s loadStack with the options above (the CLI's cached loader). */
  load?: () => Promise<StackModel>;
  /** `--explain [KEY|VAR]`: print where interpolated values came from instead of the stack. */
  explain?: string | boolean;
}

export async function runConfig(opts: ConfigOptions, out: (s: string) => void): Promise<number> {
  const format = opts.format ?? 'yaml';
  if (format !== 'yaml' && format !== 'json') {
    throw new TsstackError('USAGE', `unknown format ${JSON.stringify(format)}`, { hint: 'use --format yaml or --format json' });
  }
  const { Provenance, renderExplain } = await import('../../stack/explain.js');
  const env = opts.env ?? process.env;
  const provenance = opts.explain !== undefined ? new Provenance(new Map(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined))) : undefined;
  const model = opts.load ? await opts.load() : await (await import('../../stack/load.js')).loadStack({ files: opts.files, projectName: opts.projectName, projectDir: opts.projectDir, envFiles: opts.envFiles, profiles: opts.profiles, env: opts.env, cwd: opts.cwd, provenance });
  const warn = opts.warn ?? ((s: string) => process.stderr.write(s + '\n'));
  for (const w of model.warnings) warn(`warning: ${w.file}${w.line ? `:${w.line}` : ''}: ${w.path}: ${w.message}`);
  if (opts.quiet) return 0;
  if (provenance) {
    out(renderExplain(provenance, typeof opts.explain === 'string' ? opts.explain : undefined));
  } else if (opts.services) {
    for (const s of Object.keys(model.services).sort()) out(s + '\n');
  } else if (opts.volumes) {
    for (const v of Object.keys(model.volumes).sort()) out(v + '\n');
  } else if (opts.profilesOnly) {
    for (const p of model.allProfiles) out(p + '\n');
  } else {
    out(renderStack(model, format));
  }
  return 0;
}
