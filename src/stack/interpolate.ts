// Variable substitution in stack-file strings, as the Compose Specification
// defines it: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
// `${VAR:?message}`, `${VAR?message}`, `${VAR:+alt}`, `${VAR+alt}`, and `$$`
// for a literal `$`. Defaults, alternatives and messages are templates
// themselves and are only evaluated when used (so an unused `${X:?}` inside a
// default never fails). Pure: the environment is a lookup function.

export type Lookup = (name: string) => string | undefined;
/** Told about each `$VAR` / `${VAR}` (no default) whose variable is unset. */
export type OnUnset = (name: string) => void;

/** Thrown by `substitute`; callers wrap it into a TsstackError with a location. */
export class TemplateError extends Error {
  constructor(
    message: string,
    readonly kind: 'invalid' | 'required',
  ) {
    super(message);
    this.name = 'TemplateError';
  }
}

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

/** Nesting of `${A:-${B:-…}}` beyond this is refused: no real stack file comes near, and a hostile one must not exhaust the stack. */
export const MAX_NESTING = 64;

/** Substitutes every variable of `template`; throws TemplateError. */
export function substitute(template: string, lookup: Lookup, onUnset?: OnUnset, depth = 0): string {
  if (!template.includes('$')) return template;
  if (depth > MAX_NESTING) throw new TemplateError(`Invalid template: defaults nested more than ${MAX_NESTING} deep`, 'invalid');
  let out = '';
  let i = 0;
  const n = template.length;
  while (i < n) {
    const c = template[i];
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = template[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
    } else if (next === '{') {
      const end = closingBrace(template, i + 2);
      if (end < 0) throw new TemplateError('Invalid template: "' + template + '"', 'invalid');
      out += braced(template.slice(i + 2, end), template, lookup, onUnset, depth);
      i = end + 1;
    } else if (next !== undefined && NAME_START.test(next)) {
      let j = i + 2;
      while (j < n && NAME_CHAR.test(template[j]!)) j++;
      const name = template.slice(i + 1, j);
      const v = lookup(name);
      if (v === undefined) onUnset?.(name);
      out += v ?? '';
      i = j;
    } else {
      out += '$';
      i++;
    }
  }
  return out;
}

/** Index of the `}` closing a `${` whose body starts at `from`; -1 when unterminated. */
function closingBrace(s: string, from: number): number {
  let depth = 1;
  for (let j = from; j < s.length; j++) {
    const c = s[j];
    if (c === '{') depth++;
    else if (c === '}') {
      depth--;
      if (depth === 0) return j;
    }
  }
  return -1;
}

const OPS = [':-', ':?', ':+', '-', '?', '+'] as const;

function braced(body: string, whole: string, lookup: Lookup, onUnset: OnUnset | undefined, depth: number): string {
  let k = 0;
  if (!NAME_START.test(body[0] ?? '')) throw new TemplateError('Invalid template: "' + whole + '"', 'invalid');
  while (k < body.length && NAME_CHAR.test(body[k]!)) k++;
  const name = body.slice(0, k);
  if (k === body.length) {
    const v = lookup(name);
    if (v === undefined) onUnset?.(name);
    return v ?? '';
  }
  const op = OPS.find((o) => body.startsWith(o, k));
  if (!op) throw new TemplateError('Invalid template: "' + whole + '"', 'invalid');
  const arg = body.slice(k + op.length);
  const value = lookup(name);
  const colon = op.startsWith(':');
  const missing = colon ? value === undefined || value === '' : value === undefined;
  switch (op[op.length - 1]) {
    case '-':
      return missing ? substitute(arg, lookup, onUnset, depth + 1) : value!;
    case '+':
      return missing ? '' : substitute(arg, lookup, onUnset, depth + 1);
    default: {
      if (!missing) return value!;
      const msg = substitute(arg, lookup, undefined, depth + 1);
      throw new TemplateError(`required variable ${name} is missing a value` + (msg ? `: ${msg}` : ''), 'required');
    }
  }
}
