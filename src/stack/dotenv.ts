// `.env` / `env_file` parsing (the dotenv dialect Compose uses).
// Rules: `#` lines are comments; an optional `export ` prefix; `KEY=value` or
// `KEY: value`; unquoted values end at ` #` (a `#` after whitespace) and are
// trimmed; single quotes are literal (only `\'` unescaped); double quotes may
// span lines and unescape `\n \t \r \a \b \f \v \\ \" \$ \0NNN`; unquoted and
// double-quoted values expand `$VAR`/`${VAR...}`, looking first in `lookup`
// (the process environment) and then at keys set earlier in the file; a bare
// `KEY` line takes its value from `lookup`, or is left out.

import { substitute, TemplateError, type Lookup } from './interpolate.js';

export class DotenvError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
    this.name = 'DotenvError';
  }
}

/** Parses `src`; `vars` (if given) receives keys as they are read, so several files can chain. */
export function parseDotenv(src: string, lookup: Lookup = () => undefined, vars: Map<string, string> = new Map(), onKey?: (key: string, line: number, value: string) => void): Record<string, string> {
  if (src.charCodeAt(0) === 0xfeff) src = src.slice(1);
  src = src.replace(/\r\n?/g, '\n');
  const out: Record<string, string> = {};
  const expandLookup: Lookup = (k) => lookup(k) ?? vars.get(k);
  let i = 0;
  let line = 1;
  const n = src.length;
  while (i < n) {
    let eol = src.indexOf('\n', i);
    if (eol < 0) eol = n;
    const raw = src.slice(i, eol);
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) {
      i = eol + 1;
      line++;
      continue;
    }
    const startLine = line;
    // Key part.
    let rest = raw.replace(/^[ \t]+/, '');
    const exp = /^export[ \t]+/.exec(rest);
    if (exp) rest = rest.slice(exp[0].length);
    const sep = rest.search(/[=:]/);
    const keyRaw = sep < 0 ? rest : rest.slice(0, sep);
    const key = keyRaw.trim();
    const bad = /[^\p{L}\p{N}_.\-[\]]/u.exec(key);
    if (bad && /\s/.test(bad[0])) throw new DotenvError(`line ${startLine}: key cannot contain a space`, startLine);
    if (bad) throw new DotenvError(`line ${startLine}: unexpected character "${bad[0]}" in variable name "${trimmed}"`, startLine);
    if (sep < 0) {
      const inherited = lookup(key);
      if (inherited !== undefined) {
        out[key] = inherited;
        vars.set(key, inherited);
        onKey?.(key, startLine, inherited);
      }
      i = eol + 1;
      line++;
      continue;
    }
    // Value part, measured from the position in `src` so quoted values can span lines.
    const valueStart = i + (raw.length - rest.length) + sep + 1;
    let j = valueStart;
    while (j < n && (src[j] === ' ' || src[j] === '\t')) j++;
    const q = src[j];
    let value: string;
    if (q === '"' || q === "'") {
      let k = j + 1;
      for (;;) {
        if (k >= n) throw new DotenvError(`line ${startLine}: unterminated quoted value`, startLine);
        if (src[k] === q && !escaped(src, k)) break;
        k++;
      }
      const body = src.slice(j + 1, k);
      line += countNewlines(body);
      value = q === "'" ? body.replace(/\\'/g, "'") : expand(unescapeDouble(body), expandLookup, startLine);
      eol = src.indexOf('\n', k);
      if (eol < 0) eol = n;
    } else {
      let v = src.slice(j, eol);
      const hash = v.search(/[ \t]#/);
      if (hash >= 0) v = v.slice(0, hash);
      else if (v.startsWith('#')) v = '';
      value = expand(v.trim(), expandLookup, startLine);
    }
    out[key] = value;
    vars.set(key, value);
    onKey?.(key, startLine, value);
    i = eol + 1;
    line++;
  }
  return out;
}

function escaped(s: string, at: number): boolean {
  let k = at - 1;
  let count = 0;
  while (k >= 0 && s[k] === '\\') {
    count++;
    k--;
  }
  return count % 2 === 1;
}

function countNewlines(s: string): number {
  let c = 0;
  for (const ch of s) if (ch === '\n') c++;
  return c;
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', '\\': '\\', '"': '"' };

/** Unescapes a double-quoted body; `\$` becomes `$$` so the expansion pass keeps it literal. */
function unescapeDouble(body: string): string {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\' || i + 1 >= body.length) {
      out += c;
      continue;
    }
    const e = body[i + 1]!;
    if (e in ESCAPES) {
      out += ESCAPES[e];
      i++;
    } else if (e === '$') {
      out += '$$';
      i++;
    } else if (e === '0') {
      const m = /^[0-7]{1,3}/.exec(body.slice(i + 2));
      const digits = m ? m[0] : '';
      out += String.fromCharCode(parseInt(digits || '0', 8));
      i += 1 + digits.length;
    } else {
      out += c;
    }
  }
  return out;
}

function expand(v: string, lookup: Lookup, line: number): string {
  try {
    return substitute(v, lookup);
  } catch (e) {
    if (e instanceof TemplateError) throw new DotenvError(`line ${line}: ${e.message}`, line);
    throw e;
  }
}
