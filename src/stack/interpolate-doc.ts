// Interpolation of a whole parsed file: every string value (not keys) is
// substituted; errors name the file, line and dotted path of the value.

import { TsstackError } from '../util/errors.js';
import { setKey } from './merge.js';
import { substitute, TemplateError, type Lookup, type OnUnset } from './interpolate.js';
import { formatPath, lineOf, type ParsedFile } from './yaml-read.js';

/**
 * Substitutes every string of `value` (not keys). Arrays and mappings are updated in place
 * (they are this file's own parse result); the path is a shared stack copied only when reported.
 */
export function interpolateValue(
  value: unknown,
  lookup: Lookup,
  onError: (path: (string | number)[], e: TemplateError, template: string) => never,
  path: (string | number)[] = [],
  onUnset?: (name: string, path: (string | number)[]) => void,
  onValue?: OnValue,
): unknown {
  if (typeof value === 'string') {
    if (!value.includes('$')) return value;
    try {
      if (!onValue) return substitute(value, lookup, onUnset && ((name) => onUnset(name, [...path])));
      const names: string[] = [];
      const result = substitute(value, (k) => (names.push(k), lookup(k)), onUnset && ((name) => onUnset(name, [...path])));
      if (names.length) onValue([...path], value, result, names);
      return result;
    } catch (e) {
      if (e instanceof TemplateError) onError([...path], e, value);
      throw e;
    }
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      path.push(i);
      value[i] = interpolateValue(value[i], lookup, onError, path, onUnset, onValue);
      path.pop();
    }
    return value;
  }
  if (typeof value === 'object' && value !== null) {
    const o = value as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      path.push(k);
      const v = interpolateValue(o[k], lookup, onError, path, onUnset, onValue);
      if (v !== o[k]) setKey(o, k, v);
      path.pop();
    }
    return value;
  }
  return value;
}

/** compose-compatible message for a failed substitution at `path`. */
export function interpolationMessage(path: (string | number)[], e: TemplateError, template: string): string {
  const p = formatPath(path);
  if (e.kind === 'required') return `error while interpolating ${p}: ${e.message}`;
  // A hostile template can be megabytes: quote its start only.
  const shown = template.length > 200 ? `${template.slice(0, 200)}… (${template.length} characters)` : template;
  const why = e.message.startsWith('Invalid template: "') ? '' : `${e.message.replace(/^Invalid template: /, '')}.\n`;
  return `invalid interpolation format for ${p}.\n${why}You may need to escape any $ with another $.\n${shown}`;
}

/** Interpolates `pf.value` in place; unset variables used without a default are reported to `onUnset`. */
/** Told of each interpolated string that used variables (for `config --explain`). */
export type OnValue = (path: (string | number)[], template: string, result: string, names: string[]) => void;

export function interpolateFile(pf: ParsedFile, lookup: Lookup, onUnset?: (name: string, path: (string | number)[], line?: number) => void, onValue?: OnValue): void {
  const unset: OnUnsetAt | undefined = onUnset && ((name, path) => onUnset(name, path, lineOf(pf.lines, path)));
  pf.value = interpolateValue(pf.value, lookup, (path, e, template) => {
    const line = lineOf(pf.lines, path);
    throw new TsstackError('SPEC', interpolationMessage(path, e, template), {
      location: { file: pf.file, line, path: formatPath(path) },
      hint: e.kind === 'required' ? 'set the variable in the environment or in .env' : 'write $$ for a literal $',
    });
  }, [], unset, onValue);
}

type OnUnsetAt = (name: string, path: (string | number)[]) => void;
export type { OnUnset };

/**
 * Gives `environment` entries declared without a value (`- VAR`, `VAR:`) the value `lookup` has
 * for them, in place. Done per file, so an included project's env_file applies to its own
 * services; entries still unset stay bare (the normalizer leaves them null).
 */
export function resolveBareEnvironment(pf: ParsedFile, lookup: Lookup): void {
  const services = (pf.value as Record<string, unknown> | null)?.services;
  if (typeof services !== 'object' || services === null) return;
  for (const svc of Object.values(services)) {
    if (typeof svc !== 'object' || svc === null) continue;
    const s = svc as Record<string, unknown>;
    const env = s.environment;
    if (Array.isArray(env)) {
      s.environment = env.map((e) => {
        if (typeof e !== 'string' || e.includes('=')) return e;
        const v = lookup(e);
        return v === undefined ? e : `${e}=${v}`;
      });
    } else if (typeof env === 'object' && env !== null) {
      for (const [k, v] of Object.entries(env)) {
        if (v !== null) continue;
        const found = lookup(k);
        if (found !== undefined) setKey(env as Record<string, unknown>, k, found);
      }
    }
  }
}

/**
 * `secrets.x.environment: VAR` / `configs.x.environment: VAR`: the value is read now, with this file's
 * own lookup (so an included file sees its include's `env_file`), into `content`; the runtime needs no
 * lookup. `environment` stays (it names the source; `config` prints it and hides the value). Left alone
 * when the variable is unset or `content` is also given.
 */
export function resolveFileObjectEnvironment(pf: ParsedFile, lookup: Lookup): void {
  const doc = pf.value as Record<string, unknown> | null;
  for (const kind of ['secrets', 'configs']) {
    const objs = doc?.[kind];
    if (typeof objs !== 'object' || objs === null) continue;
    for (const o of Object.values(objs)) {
      if (typeof o !== 'object' || o === null) continue;
      const obj = o as Record<string, unknown>;
      if (typeof obj.environment !== 'string' || obj.content !== undefined) continue;
      const v = lookup(obj.environment);
      if (v !== undefined) obj.content = v;
    }
  }
}
