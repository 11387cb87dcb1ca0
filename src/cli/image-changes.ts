// `image import --change`: Dockerfile instructions applied to the config of an
// imported image, as `docker import -c` does (pure). Each change is parsed by
// the builder's Dockerfile parser; only instructions that change the config
// are accepted (CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD,
// SHELL, STOPSIGNAL, USER, VOLUME, WORKDIR). Words are expanded with the ENV
// set so far, as in a Dockerfile; CMD and ENTRYPOINT are kept as written.

import { posix } from 'node:path';
import type { ImageRuntimeConfig } from '../engine/api.js';
import { healthcheckConfig, parseDockerfileText, type Instruction } from '../engine/image/build/instructions.js';
import { expandWord, expandWords } from '../engine/image/build/shell-lex.js';
import { TsstackError } from '../util/errors.js';

const ACCEPTED = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'HEALTHCHECK', 'LABEL', 'ONBUILD', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR'];
const DEFAULT_SHELL = ['/bin/sh', '-c'];

export type ImportConfig = ImageRuntimeConfig & { OnBuild?: string[] };

function usage(change: string, reason: string, hint?: string): TsstackError {
  return new TsstackError('USAGE', `--change ${JSON.stringify(change)}: ${reason}`, { hint: hint ?? `use one Dockerfile instruction per --change: ${ACCEPTED.join(', ')}` });
}

/** The instructions of one `--change` value (a value may hold several lines). */
function instructionsOf(change: string): Instruction[] {
  let parsed;
  try {
    parsed = parseDockerfileText(`FROM scratch\n${change}`, '--change');
  } catch (e) {
    const reason = (e as { reason?: string }).reason ?? (e instanceof Error ? e.message : String(e));
    throw usage(change, reason);
  }
  const ins = parsed.stages.flatMap((s, i) => (i === 0 ? s.commands : [s.from, ...s.commands]));
  if (ins.length === 0) throw usage(change, 'no instruction');
  for (const i of ins) if (!ACCEPTED.includes(i.kind)) throw usage(change, `${i.kind} cannot be used with --change`);
  return ins;
}

function exposeKeys(change: string, spec: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(spec);
  if (!m) throw usage(change, `invalid port "${spec}" in EXPOSE`, 'use PORT[/PROTO] or START-END[/PROTO]');
  const lo = Number(m[1]);
  const hi = m[2] !== undefined ? Number(m[2]) : lo;
  if (lo < 1 || hi < lo || hi > 65535) throw usage(change, `invalid port range "${spec}" in EXPOSE`);
  const proto = (m[3] ?? 'tcp').toLowerCase();
  const out: string[] = [];
  for (let p = lo; p <= hi; p++) out.push(`${p}/${proto}`);
  return out;
}

function setEnv(env: string[] | undefined, key: string, value: string): string[] {
  return [...(env ?? []).filter((kv) => !kv.startsWith(`${key}=`)), `${key}=${value}`];
}

/** Applies `changes` in order to `base` (not modified); returns the new config. Throws USAGE naming the change. */
export function applyChanges(changes: string[], base: ImportConfig = {}): ImportConfig {
  const cfg: ImportConfig = structuredClone(base);
  let cmdSet = false;
  for (const change of changes) {
    for (const ins of instructionsOf(change)) {
      const env = cfg.Env ?? [];
      const word = (s: string): string => {
        try {
          return expandWord(s, env);
        } catch (e) {
          throw usage(change, e instanceof Error ? e.message : String(e));
        }
      };
      const words = (s: string): string[] => {
        try {
          return expandWords(s, env);
        } catch (e) {
          throw usage(change, e instanceof Error ? e.message : String(e));
        }
      };
      switch (ins.kind) {
        case 'ENV':
          for (const p of ins.pairs) cfg.Env = setEnv(cfg.Env, word(p.key), word(p.value));
          break;
        case 'LABEL': {
          const labels = { ...(cfg.Labels ?? {}) };
          for (const p of ins.pairs) labels[word(p.key)] = word(p.value);
          cfg.Labels = labels;
          break;
        }
        case 'WORKDIR':
          cfg.WorkingDir = posix.resolve(cfg.WorkingDir || '/', word(ins.value));
          break;
        case 'USER':
          cfg.User = word(ins.value);
          break;
        case 'STOPSIGNAL':
          cfg.StopSignal = word(ins.value);
          break;
        case 'SHELL':
          cfg.Shell = ins.shell;
          break;
        case 'CMD':
          cfg.Cmd = ins.json ? ins.cmd : [...(cfg.Shell ?? DEFAULT_SHELL), ins.cmd.join(' ')];
          cmdSet = true;
          break;
        case 'ENTRYPOINT':
          cfg.Entrypoint = ins.json ? ins.cmd : [...(cfg.Shell ?? DEFAULT_SHELL), ins.cmd.join(' ')];
          // As in a Dockerfile: an ENTRYPOINT drops a CMD that these changes did not set.
          if (!cmdSet) delete cfg.Cmd;
          break;
        case 'EXPOSE': {
          const ports = { ...(cfg.ExposedPorts ?? {}) };
          for (const v of ins.values.flatMap((x) => (ins.json ? [word(x)] : words(x)))) for (const k of exposeKeys(change, v)) ports[k] = {};
          cfg.ExposedPorts = ports;
          break;
        }
        case 'VOLUME': {
          const vols = { ...(cfg.Volumes ?? {}) };
          for (const v of ins.values.flatMap((x) => (ins.json ? [word(x)] : words(x)))) {
            if (v.trim() === '') throw usage(change, 'VOLUME specified can not be an empty string');
            vols[v] = {};
          }
          cfg.Volumes = vols;
          break;
        }
        case 'HEALTHCHECK':
          cfg.Healthcheck = healthcheckConfig(ins);
          break;
        case 'ONBUILD':
          cfg.OnBuild = [...(cfg.OnBuild ?? []), ins.expression];
          break;
        default:
          throw usage(change, `${ins.kind} cannot be used with --change`);
      }
    }
  }
  return cfg;
}
