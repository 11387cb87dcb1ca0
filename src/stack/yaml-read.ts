// Reads one YAML stack file into plain data with js-yaml (fast), and the
// table of source lines (dotted path → line) that errors and warnings cite
// from js-yaml's node events (yaml-lines.ts pairs them with keys). Every read
// of YAML goes through here; the `yaml` library only writes (render.ts).
// Anchors, aliases and `<<` merge keys are resolved here (aliases stay shared
// references); `!reset` / `!override` become markers for merge.ts. A document
// with duplicate or non-string keys, recursive aliases, more than MAX_NODES
// nodes once aliases are expanded, or more than MAX_DEPTH levels is refused.

import yaml from 'js-yaml';
import { TsstackError } from '../util/errors.js';
import { type Frame, frameLines, pairs } from './yaml-lines.js';

/** Compose's merge tags: `!reset` drops an inherited value, `!override` replaces it instead of merging. */
export const RESET_KEY = '\u0000tsstack-reset';
export const OVERRIDE_KEY = '\u0000tsstack-override';

export function isReset(v: unknown): boolean {
  return typeof v === 'object' && v !== null && RESET_KEY in v;
}
export function isOverride(v: unknown): v is { [OVERRIDE_KEY]: unknown } {
  return typeof v === 'object' && v !== null && OVERRIDE_KEY in v;
}

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

export class ParsedFile {
  /** When the file holds several YAML documents: each one's data (the loader merges them into `value`). */
  docs?: unknown[];
  constructor(
    readonly file: string,
    public value: unknown,
    /** `services.web.ports.0` → line (1-based) of that key or item. */
    readonly lines: Map<string, number>,
  ) {}
}

/** Octal ints as YAML 1.1 and Compose read them (`mode: 0440`); must precede the decimal int type. */
const octalInt = new yaml.Type('tag:tsstack.dev,2026:octal-int', {
  kind: 'scalar',
  resolve: (s: unknown) => typeof s === 'string' && /^0[0-7]+$/.test(s),
  construct: (s: string) => parseInt(s, 8),
});

/**
 * A decimal integer beyond 2^53 stays the string it was written as (a number would silently lose
 * digits: `BIG: 12345678901234567890` in `environment` must reach the container unchanged); keys that
 * need a number then refuse it with a located error. Must precede the int type.
 */
const unsafeInt = new yaml.Type('tag:tsstack.dev,2026:unsafe-int', {
  kind: 'scalar',
  resolve: (s: unknown) => typeof s === 'string' && /^[-+]?[0-9][0-9_]*$/.test(s) && !Number.isSafeInteger(Number(s.replace(/_/g, ''))),
  construct: (s: string) => s,
});

function markerTypes(tag: '!reset' | '!override'): InstanceType<typeof yaml.Type>[] {
  const mark = (v: unknown) => (tag === '!reset' ? { [RESET_KEY]: true } : { [OVERRIDE_KEY]: v });
  return (['scalar', 'sequence', 'mapping'] as const).map(
    (kind) => new yaml.Type(tag, { kind, resolve: () => true, construct: (v: unknown) => mark(kind === 'scalar' ? (v ?? null) : v) }),
  );
}

/** YAML 1.2 core schema + merge keys + octal ints + Compose's merge tags (no timestamps: dates stay strings). */
const SCHEMA = yaml.FAILSAFE_SCHEMA.extend({
  implicit: [yaml.types.null, yaml.types.bool, octalInt, unsafeInt, yaml.types.int, yaml.types.float, yaml.types.merge],
  explicit: [...markerTypes('!reset'), ...markerTypes('!override')],
});

export const MAX_DEPTH = 100;
/** Alias expansion is refused past MAX_NODES, or past ALIAS_RATIO × the document's own nodes once over ALIAS_FLOOR. */
export const MAX_NODES = 2_000_000;
const ALIAS_FLOOR = 10_000;
const ALIAS_RATIO = 10;

function specError(file: string, message: string, line?: number, hint?: string): TsstackError {
  return new TsstackError('SPEC', message, { location: { file, line }, hint });
}

/** Parses a file; several YAML documents in one file are returned in `docs` for the caller to merge. */
export function parseYaml(file: string, text: string): ParsedFile {
  const stack: Frame[] = [];
  const roots: Frame[] = [];
  // An object first produced inside the subtree of the node that produces it came from an
  // alias to an anchor still being built: a recursive alias (js-yaml accepts it half-built).
  const firstClose = new Map<object, number>();
  let closes = 0;
  let recursiveAt: number | undefined;
  const keyErrors: { message: string; line: number }[] = [];
  const listener = (event: 'open' | 'close', state: { line: number; position: number; kind: string | null; result: unknown }) => {
    if (event === 'open') {
      stack.push({ line: state.line, at: state.position, end: state.position, start: closes, kind: null, result: undefined, children: [] });
      return;
    }
    const frame = stack.pop();
    if (!frame) return;
    frame.kind = state.kind;
    frame.end = state.position;
    frame.result = state.result;
    const r = state.result;
    if (typeof r === 'object' && r !== null) {
      const first = firstClose.get(r);
      if (first === undefined) firstClose.set(r, closes);
      // js-yaml reports a flow collection in a block sequence twice (the entry and the
      // collection): the same object closing again around its own child is not recursion.
      else if (first >= frame.start && frame.kind !== null && !frame.children.some((c) => c.result === r && c.kind !== null)) recursiveAt ??= frame.line + 1;
    }
    closes++;
    // Keys must be plain strings (a key written without a value has no value node: `{a, b: 1}`).
    if (state.kind === 'mapping') {
      for (const [k] of pairs(text, frame) ?? []) {
        if (k.kind !== 'scalar' || typeof k.result !== 'string') {
          const shown = k.kind === 'mapping' ? 'a mapping' : k.kind === 'sequence' ? 'a sequence' : String(k.result);
          keyErrors.push({ message: `non-string key ${shown} at line ${k.line + 1}: keys must be strings`, line: k.line + 1 });
        }
      }
    }
    if (frame.kind !== 'mapping' && frame.kind !== 'sequence') frame.children = [];
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(frame);
    else roots.push(frame);
  };
  let docs: unknown[];
  try {
    docs = yaml.loadAll(text, undefined, { filename: file, schema: SCHEMA, listener });
  } catch (e) {
    if (e instanceof yaml.YAMLException) {
      const mark = (e as { mark?: { line: number; column: number } }).mark;
      const reason = (e as { reason?: string }).reason ?? '';
      const prefix = reason.startsWith('cannot merge mappings') ? 'map merge requires map: ' : '';
      throw new TsstackError('SPEC', `invalid YAML: ${prefix}${(e as Error).message}`, {
        location: { file, line: mark ? mark.line + 1 : undefined, column: mark ? mark.column + 1 : undefined },
        hint: 'fix the YAML syntax at the position shown',
      });
    }
    if (e instanceof RangeError) throw specError(file, `the document is nested too deeply (more than ${MAX_DEPTH} levels)`, undefined, 'flatten the structure');
    throw e;
  }
  if (recursiveAt !== undefined) {
    throw specError(file, `a YAML alias refers to a node that contains it (recursive alias, anchor at line ${recursiveAt})`, recursiveAt, 'remove the alias from inside its anchor');
  }
  if (keyErrors.length > 0) {
    const first = keyErrors[0]!;
    throw new TsstackError('SPEC', first.message, { location: { file, line: first.line }, details: keyErrors.slice(1).map((k) => k.message), hint: 'quote keys so they are strings' });
  }
  for (const d of docs) checkShape(file, d);
  const pf = new ParsedFile(file, docs.length === 1 ? docs[0] : null, frameLines(text, roots));
  if (docs.length > 1) pf.docs = docs;
  return pf;
}

/** Refuses recursive aliases, alias expansion bombs and excessive depth (later passes recurse). */
function checkShape(file: string, root: unknown): void {
  const sizes = new Map<object, number>();
  const open = new Set<object>();
  let own = 0; // nodes as written (each shared node once)
  const bomb = () => specError(file, 'excessive aliasing: YAML aliases expand the document far beyond its written size', undefined, 'reduce nested use of anchors and aliases');
  const size = (v: unknown, depth: number): number => {
    if (typeof v !== 'object' || v === null) return 1;
    if (depth > MAX_DEPTH) throw specError(file, `the document is nested too deeply (more than ${MAX_DEPTH} levels)`, undefined, 'flatten the structure');
    const known = sizes.get(v);
    if (known !== undefined) return known;
    if (open.has(v)) throw specError(file, 'a YAML alias refers to a node that contains it (recursive alias)', undefined, 'remove the alias from inside its anchor');
    open.add(v);
    let n = 1;
    const children = Array.isArray(v) ? v : Object.values(v);
    own += 1 + children.length;
    for (const x of children) {
      n += size(x, depth + 1);
      if (n > MAX_NODES) throw bomb();
    }
    open.delete(v);
    sizes.set(v, n);
    return n;
  };
  const total = size(root, 0);
  if (total > ALIAS_FLOOR && total > ALIAS_RATIO * own) throw bomb();
}
