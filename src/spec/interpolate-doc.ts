// Interpolation of a whole parsed file: every string value (not keys) is
// substituted; errors name the file, line and dotted path of the value.

import { TsstackError } from '../util/errors.js';
import { setKey } from './merge.js';
import { substitute, TemplateError, type Lookup } from './interpolate.js';
import { formatPath, lineOf, type ParsedFile } from './yaml-read.js';

export function interpolateValue(value: unknown, lookup: Lookup, onError: (path: (string | number)[], e: TemplateError, template: string) => never, path: (string | number)[] = []): unknown {
  if (typeof value === 'string') {
    try {
      return substitute(value, lookup);
    } catch (e) {
      if (e instanceof TemplateError) onError(path, e, value);
      throw e;
    }
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateValue(v, lookup, onError, [...path, i]));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) setKey(out, k, interpolateValue(v, lookup, onError, [...path, k]));
    return out;
  }
  return value;
}

/** compose-compatible message for a failed substitution at `path`. */
export function interpolationMessage(path: (string | number)[], e: TemplateError, template: string): string {
  const p = formatPath(path);
  return e.kind === 'required' ? `error while interpolating ${p}: ${e.message}` : `invalid interpolation format for ${p}.\nYou may need to escape any $ with another $.\n${template}`;
}

export function interpolateFile(pf: ParsedFile, lookup: Lookup): void {
  pf.value = interpolateValue(pf.value, lookup, (path, e, template) => {
    const line = lineOf(pf.lines, path);
    throw new TsstackError('SPEC', `${pf.file}${line ? `:${line}` : ''}: ${interpolationMessage(path, e, template)}`, {
      location: { file: pf.file, line, path: formatPath(path) },
      hint: e.kind === 'required' ? 'set the variable in the environment or in .env' : 'write $$ for a literal $',
    });
  });
}
