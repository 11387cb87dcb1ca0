// Lifecycle hooks (`post_start`, `pre_stop`; Compose 2.30+): lists of
// `{command, user, privileged, working_dir, environment}` run in the service's
// container as execs, after it starts and before tsstack stops it. A hook
// without a command, or with a bad value, is an error at its line.

import type { ServiceHook } from '../model/types.js';
import type { Ctx } from './normalize.js';

type Obj = Record<string, unknown>;

export const HOOK_KEYS = ['post_start', 'pre_stop'] as const;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : v === null || v === undefined ? '' : String(v);
}

/** Reads `post_start`/`pre_stop` of `raw` into `out` (absent or empty lists leave the key unset). */
export function normalizeHooks(
  ctx: Ctx, name: string, raw: Obj, out: { post_start?: ServiceHook[]; pre_stop?: ServiceHook[] },
  parse: { command: (path: (string | number)[], v: unknown) => string[] | null | undefined; bool: (path: (string | number)[], v: unknown) => boolean; env: (v: unknown) => Record<string, string | null> },
): void {
  for (const key of HOOK_KEYS) {
    const v = raw[key];
    if (v === undefined || v === null) continue;
    const at = (...k: (string | number)[]) => ['services', name, key, ...k];
    if (!Array.isArray(v)) throw ctx.error(at(), `${key} must be a list of hooks`, `write ${key}: [{command: ["sh", "-c", "..."]}]`);
    const hooks = v.map((h, i): ServiceHook => {
      if (!isObj(h)) throw ctx.error(at(i), `${key}[${i}] must be a mapping with a command`, `write - command: ["sh", "-c", "..."]`);
      const cmd = parse.command(at(i, 'command'), h.command);
      if (!cmd || cmd.length === 0) throw ctx.error(at(i, 'command'), `${key}[${i}] has no command`, 'give the command to run in the container, e.g. command: ["sh", "-c", "echo ready"]');
      const hook: ServiceHook = { command: cmd };
      if (h.user !== undefined && h.user !== null && str(h.user) !== '') hook.user = str(h.user);
      if (h.privileged !== undefined && h.privileged !== null && parse.bool(at(i, 'privileged'), h.privileged)) hook.privileged = true;
      if (h.working_dir !== undefined && h.working_dir !== null && str(h.working_dir) !== '') {
        const wd = str(h.working_dir);
        if (!wd.startsWith('/')) throw ctx.error(at(i, 'working_dir'), `${key}[${i}].working_dir must be an absolute path in the container, got ${JSON.stringify(wd)}`, 'write e.g. working_dir: /app');
        hook.working_dir = wd;
      }
      if (h.environment !== undefined && h.environment !== null) {
        const env = parse.env(h.environment);
        // a bare name takes the variable's value from the environment; one not set there is left out
        const keys = Object.keys(env).filter((k) => env[k] !== null);
        for (const k of Object.keys(env)) if (k === '' || k !== k.trim() || k.includes('=')) throw ctx.error(at(i, 'environment'), `${key}[${i}].environment: invalid variable name ${JSON.stringify(k)}`);
        if (keys.length) hook.environment = Object.fromEntries(keys.sort().map((k) => [k, env[k]!]));
      }
      for (const k of Object.keys(h)) if (!['command', 'user', 'privileged', 'working_dir', 'environment'].includes(k) && !k.startsWith('x-')) ctx.warn(at(i, k), `${k} is not supported by tsstack yet; ignored`);
      return hook;
    });
    if (hooks.length) out[key] = hooks;
  }
}
