// Reads one YAML stack file into plain data plus a table of source lines
// (dotted path → line), so later passes can name the line of any key.
// Anchors, aliases and `<<` merge keys are resolved here; a document that
// expands aliases too much, has duplicate keys or non-string keys is refused.

import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node as YamlNode } from 'yaml';
import { TsstackError } from '../util/errors.js';

export interface ParsedFile {
  file: string;
  value: unknown;
  /** `services.web.ports.0` → line (1-based) of that key or item. */
  lines: Map<string, number>;
  /** When the file holds several YAML documents: each one's data (`value` is then their merge). */
  docs?: unknown[];
}

/** Octal ints as YAML 1.1 and Compose read them (`mode: 0440`). */
const octalInt = {
  identify: (v: unknown) => typeof v === 'number',
  default: true,
  tag: 'tag:yaml.org,2002:int',
  test: /^0[0-7]+$/,
  resolve: (s: string) => parseInt(s, 8),
};

export function pathKey(path: readonly (string | number)[]): string {
  return path.join('.');
}

/** Human form of a path: `services.web.ports[1]`. */
export function formatPath(path: readonly (string | number)[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${p}` : p;
  return s;
}

/** Line of `path`, or of its closest ancestor that has one. */
export function lineOf(lines: Map<string, number> | undefined, path: readonly (string | number)[]): number | undefined {
  if (!lines) return undefined;
  for (let n = path.length; n >= 0; n--) {
    const l = lines.get(pathKey(path.slice(0, n)));
    if (l !== undefined) return l;
  }
  return undefined;
}

/** Compose's merge tags: `!reset` drops an inherited value, `!override` replaces it instead of merging. */
export const RESET_KEY = '\u0000tsstack-reset';
export const OVERRIDE_KEY = '\u0000tsstack-override';

export function isReset(v: unknown): boolean {
  return typeof v === 'object' && v !== null && RESET_KEY in v;
}
export function isOverride(v: unknown): v is { [OVERRIDE_KEY]: unknown } {
  return typeof v === 'object' && v !== null && OVERRIDE_KEY in v;
}

/** Parses a file; several YAML documents in one file are merged in order by the caller (`docs`). */
export function parseYaml(file: string, text: string): ParsedFile {
  const lc = new LineCounter();
  const all = parseAllDocuments(text, { lineCounter: lc, prettyErrors: true, merge: true, uniqueKeys: false, customTags: (tags) => [octalInt, ...tags], strict: true });
  const list: Document.Parsed[] = Array.isArray(all) ? all : [];
  if (!Array.isArray(all)) return { file, value: null, lines: new Map() };
  if (list.length === 0) return { file, value: null, lines: new Map() };
  const parts = list.map((doc) => parseOne(file, doc, lc));
  if (parts.length === 1) return parts[0]!;
  const lines = new Map<string, number>();
  for (const p of parts) for (const [k, v] of p.lines) if (!lines.has(k)) lines.set(k, v);
  return { file, value: null, lines, docs: parts.map((p) => p.value) };
}

function parseOne(file: string, doc: Document.Parsed, lc: LineCounter): ParsedFile {
  const errs = doc.errors;
  if (errs.length > 0) {
    const e = errs[0]!;
    const line = e.linePos?.[0].line;
    const col = e.linePos?.[0].col;
    const msg = e.message;
    throw new TsstackError('SPEC', `invalid YAML: ${msg}`, {
      location: { file, line, column: col },
      hint: 'fix the YAML syntax at the position shown',
      details: errs.slice(1).map((x) => x.message),
    });
  }
  const lines = new Map<string, number>();
  const keyErrors: KeyError[] = [];
  const tags: [(string | number)[], string][] = [];
  walk(doc.contents as YamlNode | null, [], '', lines, lc, keyErrors, tags);
  if (keyErrors.length > 0) {
    const first = keyErrors[0]!;
    throw new TsstackError('SPEC', first.message, {
      location: { file, line: first.line, path: first.path },
      details: keyErrors.slice(1).map((k) => k.message),
      hint: first.duplicate ? 'remove one of the two keys (use an override file to change a value)' : 'quote keys so they are strings',
    });
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    const m = e instanceof Error ? e.message : String(e);
    if (/merge sources/i.test(m)) {
      throw new TsstackError('SPEC', `map merge requires map: a \`<<\` merge key must refer to a mapping`, { location: { file } });
    }
    if (/alias/i.test(m)) {
      throw new TsstackError('SPEC', `excessive aliasing: the document expands YAML aliases too many times`, {
        location: { file },
        hint: 'reduce nested use of anchors and aliases',
      });
    }
    throw new TsstackError('SPEC', `invalid YAML: ${m}`, { location: { file } });
  }
  for (const [path, tag] of tags) value = applyTag(value, path, tag);
  return { file, value, lines };
}

function applyTag(root: unknown, path: (string | number)[], tag: string): unknown {
  const mark = (v: unknown) => (tag === '!reset' ? { [RESET_KEY]: true } : { [OVERRIDE_KEY]: v });
  if (path.length === 0) return mark(root);
  let parent = root as Record<string | number, unknown>;
  for (const seg of path.slice(0, -1)) {
    parent = parent?.[seg] as Record<string | number, unknown>;
    if (typeof parent !== 'object' || parent === null) return root;
  }
  const last = path[path.length - 1]!;
  if (typeof parent === 'object' && parent !== null && last in parent) parent[last] = mark(parent[last]);
  return root;
}

interface KeyError {
  message: string;
  line?: number;
  path?: string;
  duplicate?: boolean;
}

/** Records each key's line and checks keys (strings, unique per mapping) in one pass. */
function walk(node: YamlNode | null, path: (string | number)[], key: string, lines: Map<string, number>, lc: LineCounter, errs: KeyError[], tags: [(string | number)[], string][]): void {
  if (!node || isAlias(node)) return;
  if (node.tag === '!reset' || node.tag === '!override') tags.push([[...path], node.tag]);
  if (isScalar(node)) return;
  if (isMap(node)) {
    const seen = new Map<string, number>();
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const k = pair.key as YamlNode | null;
      let name: string;
      if (isScalar(k)) {
        if (typeof k.value === 'symbol') continue; // `<<` merge key
        if (typeof k.value !== 'string') {
          const where = path.length === 0 ? 'at top level' : `in ${formatPath(path)}`;
          errs.push({ message: `non-string key ${where}: ${String(k.value)}`, line: k.range ? lc.linePos(k.range[0]).line : undefined, path: formatPath(path) });
          continue;
        }
        name = k.value;
        if (name === '<<') continue;
      } else {
        const where = path.length === 0 ? 'at top level' : `in ${formatPath(path)}`;
        const line = k?.range ? lc.linePos(k.range[0]).line : undefined;
        if (k) errs.push({ message: `non-string key ${where}: ${isAlias(k) ? 'an alias' : isMap(k) ? 'a mapping' : 'a sequence'} cannot be a key`, line, path: formatPath(path) });
        continue;
      }
      const line = k.range ? lc.linePos(k.range[0]).line : 0;
      const before = seen.get(name);
      if (before !== undefined) {
        errs.push({ message: `line ${line}: mapping key ${JSON.stringify(name)} already defined at line ${before}`, line, path: formatPath([...path, name]), duplicate: true });
        continue;
      }
      seen.set(name, line);
      const childKey = key === '' && path.length === 0 ? name : `${key}.${name}`;
      if (k.range) lines.set(childKey, line);
      path.push(name);
      walk(pair.value as YamlNode | null, path, childKey, lines, lc, errs, tags);
      path.pop();
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      const it = item as YamlNode | null;
      const childKey = path.length === 0 ? String(i) : `${key}.${i}`;
      if (it && it.range) lines.set(childKey, lc.linePos(it.range[0]).line);
      path.push(i);
      walk(it, path, childKey, lines, lc, errs, tags);
      path.pop();
    });
  }
}
