// Dockerfile syntax → line-level AST, with BuildKit's parser semantics:
// directives at the top (`# escape=`, `# syntax=`, `# check=`), comments,
// continuation lines ending in the escape token, empty continuation lines
// (allowed, warned), instruction flags (`--from=x`), JSON (exec) vs shell
// form, heredocs for RUN/COPY/ADD (`<<EOF`, `<<-EOF` strips leading tabs,
// a quoted delimiter turns expansion off). Pure: text in, nodes out. Typed
// meaning comes in instructions.ts.

import { TsstackError } from '../../../util/errors.js';

/** One AST node, shaped like BuildKit's so `dumpNode` can print the reference format. */
export interface Node {
  /** Lower-case instruction name for instruction nodes; an argument for `next` nodes. */
  value: string;
  /** Argument chain (one node per word / JSON element / key, value, separator triple). */
  next?: Node;
  /** A nested instruction (the trigger of ONBUILD hangs here, on its `next` node). */
  children: Node[];
  flags: string[];
  /** `json` when the arguments were given in exec (JSON array) form. */
  json: boolean;
  /** The full logical line (continuations joined), as written. */
  original: string;
  startLine: number;
  endLine: number;
  /** Comment lines directly above (for build-arg docs). */
  comments: string[];
  /** Heredoc bodies of a RUN/COPY/ADD, in the order of their markers. */
  heredocs: Heredoc[];
}

export interface Heredoc {
  /** The marker word as written (`<<EOF`, `<<-'EOF'`). */
  word: string;
  name: string;
  /** Body, one `\n` after each line (leading tabs removed for `<<-`). */
  content: string;
  /** The body lines and the terminator exactly as written (for handing to a shell). */
  raw: string;
  /** False when the delimiter was quoted: no variable expansion in the body. */
  expand: boolean;
}

export interface ParseResult {
  /** Instruction nodes in order. */
  children: Node[];
  startLine: number;
  endLine: number;
  escapeToken: string;
  directives: Record<string, string>;
  warnings: string[];
}

const HEREDOC_WORD = /^<<(-?)(["']?)([A-Za-z0-9_][A-Za-z0-9_.-]*)\2$/;
const WS = /[\t\v\f\r ]+/;
const DIRECTIVE = /^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$/;
const KNOWN_DIRECTIVES = new Set(['escape', 'syntax', 'check']);

function isSpace(ch: string): boolean {
  return /^\s$/u.test(ch);
}

function trimLeft(s: string): string {
  return s.replace(/^\s+/u, '');
}

export class DockerfileSyntaxError extends TsstackError {
  constructor(file: string, line: number | undefined, message: string, hint?: string) {
    super('IMAGE', line === undefined ? `${file}: ${message}` : `${file}:${line}: ${message}`, { hint, location: { file, line } });
  }
}

function mkNode(value: string, extra: Partial<Node> = {}): Node {
  return { value, children: [], flags: [], json: false, original: '', startLine: 0, endLine: 0, comments: [], heredocs: [], ...extra };
}

function chain(values: string[]): Node | undefined {
  let head: Node | undefined;
  let prev: Node | undefined;
  for (const v of values) {
    const n = mkNode(v);
    if (prev) prev.next = n;
    else head = n;
    prev = n;
  }
  return head;
}

/** Thrown inside parsing; the caller adds file and line. */
class LineError extends Error {}

export interface ParseOptions {
  /** Name used in messages (`Dockerfile`). */
  file?: string;
}

/** Parses a whole Dockerfile. Throws DockerfileSyntaxError naming file and line. */
export function parseDockerfile(text: string, opts: ParseOptions = {}): ParseResult {
  const file = opts.file ?? 'Dockerfile';
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();

  let escapeToken = '\\';
  let directivesDone = false;
  const directives: Record<string, string> = {};
  // A trailing escape token continues the line unless it is itself escaped.
  let contRe = /(^|[^\\])\\[ \t]*$/;
  const warnings: string[] = [];

  const directive = (raw: string, lineNo: number): void => {
    if (directivesDone) return;
    const m = DIRECTIVE.exec(raw);
    if (!m) { directivesDone = true; return; }
    const key = m[1]!.toLowerCase();
    if (!KNOWN_DIRECTIVES.has(key)) { directivesDone = true; return; }
    if (key in directives) throw new DockerfileSyntaxError(file, lineNo, `only one ${key} parser directive can be used`);
    directives[key] = m[2]!;
    if (key === 'escape') {
      if (m[2] !== '`' && m[2] !== '\\') throw new DockerfileSyntaxError(file, lineNo, `invalid escape token '${m[2]}' does not match ${'`'} or \\`);
      escapeToken = m[2]!;
      contRe = escapeToken === '`' ? /(^|[^`])`[ \t]*$/ : /(^|[^\\])\\[ \t]*$/;
    }
  };
  const isComment = (raw: string): boolean => trimLeft(raw).startsWith('#');
  const stripComment = (s: string): string => (s.startsWith('#') ? '' : s);
  const trimCont = (s: string): [string, boolean] => (contRe.test(s) ? [s.replace(contRe, '$1'), false] : [s, true]);

  const children: Node[] = [];
  let comments: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const raw = lines[i]!;
    const lineNo = i + 1;
    i++;
    if (isComment(raw)) {
      const c = trimLeft(raw).slice(1).trim();
      if (c === '') comments = [];
      else comments.push(c);
    }
    directive(raw, lineNo);
    let [line, end] = trimCont(stripComment(trimLeft(raw)));
    if (end && line === '') continue;
    const startLine = lineNo;
    let endLine = lineNo;
    let emptyCont = false;
    while (!end && i < lines.length) {
      const r = lines[i]!;
      endLine = i + 1;
      i++;
      directive(r, endLine);
      if (isComment(r)) continue;
      if (trimLeft(r) === '') { emptyCont = true; continue; }
      const [piece, e] = trimCont(stripComment(r));
      line += piece;
      end = e;
    }
    if (emptyCont) warnings.push(`${file}:${startLine}: empty continuation line (deprecated; it will become an error)`);
    let node: Node;
    try {
      node = nodeFromLine(line, escapeToken);
    } catch (e) {
      if (e instanceof LineError) throw new DockerfileSyntaxError(file, startLine, e.message);
      throw e;
    }
    for (const h of heredocMarkers(node, line, escapeToken)) {
      const body: string[] = [];
      const raw: string[] = [];
      let closed = false;
      while (i < lines.length) {
        const r = lines[i]!;
        i++;
        endLine = i;
        raw.push(r);
        const l = h.chomp ? r.replace(/^\t+/, '') : r;
        if (l === h.name) { closed = true; break; }
        body.push(l);
      }
      if (!closed) throw new DockerfileSyntaxError(file, startLine, `unterminated heredoc ${h.word}: no line "${h.name}" ends it`, `end the heredoc with a line holding only ${h.name}`);
      node.heredocs.push({ word: h.word, name: h.name, content: body.map((b) => b + '\n').join(''), raw: raw.map((b) => b + '\n').join(''), expand: h.expand });
    }
    node.startLine = startLine;
    node.endLine = endLine;
    node.comments = comments;
    for (const c of node.children) { c.startLine = startLine; c.endLine = endLine; }
    children.push(node);
    comments = [];
  }
  if (children.length === 0) throw new DockerfileSyntaxError(file, undefined, 'file with no instructions', 'add at least a FROM instruction');
  return {
    children,
    startLine: children[0]!.startLine,
    endLine: children[children.length - 1]!.endLine,
    escapeToken,
    directives,
    warnings,
  };
}

/** Heredoc markers among the words of a shell-form RUN/COPY/ADD. */
function heredocMarkers(node: Node, line: string, esc: string): { word: string; name: string; chomp: boolean; expand: boolean }[] {
  if (!['run', 'copy', 'add'].includes(node.value) || node.json) return [];
  const m = WS.exec(line.trim());
  if (!m) return [];
  const out: { word: string; name: string; chomp: boolean; expand: boolean }[] = [];
  for (const w of parseWords(extractFlags(line.trim().slice(m.index + m[0].length)).rest, esc)) {
    const h = HEREDOC_WORD.exec(w);
    if (h) out.push({ word: w, name: h[3]!, chomp: h[1] === '-', expand: h[2] === '' });
  }
  return out;
}

type ArgParser = (rest: string, esc: string) => { next?: Node; children?: Node[]; json?: boolean };

const PARSERS: Record<string, ArgParser> = {
  add: parseMaybeJsonToList,
  arg: (rest, esc) => ({ next: chain(parseWords(rest, esc)) }),
  cmd: parseMaybeJson,
  copy: parseMaybeJsonToList,
  entrypoint: parseMaybeJson,
  env: (rest, esc) => ({ next: parseNameVal(rest, 'ENV', esc) }),
  expose: parseWhitespaceList,
  from: parseWhitespaceList,
  healthcheck: parseHealthcheck,
  label: (rest, esc) => ({ next: parseNameVal(rest, 'LABEL', esc) }),
  maintainer: parseString,
  onbuild: (rest, esc) => (rest === '' ? {} : { next: mkNode('', { children: [nodeFromLine(rest, esc)] }) }),
  run: parseMaybeJson,
  shell: parseMaybeJson,
  stopsignal: parseString,
  user: parseString,
  volume: parseMaybeJsonToList,
  workdir: parseString,
};

/** One logical line → an instruction node. Unknown instructions parse; instructions.ts rejects them. */
export function nodeFromLine(line: string, esc: string): Node {
  const trimmed = line.trim();
  const m = WS.exec(trimmed);
  const cmd = m ? trimmed.slice(0, m.index) : trimmed;
  let args = '';
  let flags: string[] = [];
  if (m) {
    const r = extractFlags(trimmed.slice(m.index + m[0].length));
    args = r.rest.trim();
    flags = r.flags;
  }
  const name = cmd.toLowerCase();
  const p = PARSERS[name];
  const parsed = p ? p(args, esc) : { next: args === '' ? undefined : mkNode(args) };
  return mkNode(name, { next: parsed.next, children: [], flags, json: parsed.json ?? false, original: line });
}

/** Leading `--name[=value]` words; `--` ends them. Quotes and backslashes inside a flag are unwrapped. */
export function extractFlags(line: string): { rest: string; flags: string[] } {
  const flags: string[] = [];
  const chars = Array.from(line);
  let pos = 0;
  for (;;) {
    while (pos < chars.length && isSpace(chars[pos]!)) pos++;
    if (pos >= chars.length) return { rest: '', flags };
    if (chars[pos] !== '-' || chars[pos + 1] !== '-') return { rest: chars.slice(pos).join(''), flags };
    let word = '';
    let blankOk = false;
    let quote = '';
    while (pos < chars.length) {
      const ch = chars[pos]!;
      if (quote) {
        if (ch === quote) { quote = ''; pos++; continue; }
        if (ch === '\\') {
          if (pos + 1 === chars.length) { quote = ''; pos++; continue; }
          pos++;
        }
        word += chars[pos]!;
        pos++;
        continue;
      }
      if (isSpace(ch)) break;
      if (ch === "'" || ch === '"') { quote = ch; blankOk = true; pos++; continue; }
      if (ch === '\\') {
        if (pos + 1 === chars.length) { pos++; continue; }
        pos++;
      }
      word += chars[pos]!;
      pos++;
    }
    if (word === '--') {
      return { rest: chars.slice(pos).join(''), flags };
    }
    if (blankOk || word.length > 0) flags.push(word);
  }
}

/**
 * Splits on unquoted whitespace, keeping quotes and escapes in the words
 * (BuildKit's parseWords, used for ENV/LABEL/ARG before expansion).
 */
export function parseWords(rest: string, esc = '\\'): string[] {
  const words: string[] = [];
  const chars = Array.from(rest);
  let inWord = false;
  let quote = '';
  let word = '';
  let blankOk = false;
  for (let pos = 0; pos < chars.length; pos++) {
    let ch = chars[pos]!;
    if (!inWord) {
      if (isSpace(ch)) continue;
      inWord = true;
    }
    if (!quote) {
      if (isSpace(ch)) {
        if (blankOk || word.length > 0) words.push(word);
        word = '';
        blankOk = false;
        inWord = false;
        continue;
      }
      if (ch === "'" || ch === '"') { quote = ch; blankOk = true; }
      if (ch === esc) {
        if (pos + 1 === chars.length) continue;
        word += ch;
        pos++;
        ch = chars[pos]!;
      }
      word += ch;
      continue;
    }
    if (ch === quote) quote = '';
    if (ch === esc && quote !== "'") {
      if (pos + 1 === chars.length) { quote = ''; continue; }
      pos++;
      word += ch;
      ch = chars[pos]!;
    }
    word += ch;
  }
  if (inWord && (blankOk || word.length > 0)) words.push(word);
  return words;
}

function parseString(rest: string): { next?: Node } {
  return rest === '' ? {} : { next: mkNode(rest) };
}

function parseWhitespaceList(rest: string): { next?: Node } {
  return rest === '' ? {} : { next: chain(rest.split(WS)) };
}

const NOT_STRING_ARRAY = 'when using JSON array syntax, arrays must be comprised of strings only';

/** `undefined` when the text is not a JSON array; throws when it is one with non-strings. */
function parseJsonArray(rest: string): string[] | undefined {
  const t = trimLeft(rest);
  if (!t.startsWith('[')) return undefined;
  let v: unknown;
  try { v = JSON.parse(t); } catch { return undefined; }
  if (!Array.isArray(v)) return undefined;
  for (const s of v) if (typeof s !== 'string') throw new LineError(NOT_STRING_ARRAY);
  return v as string[];
}

function parseMaybeJson(rest: string): { next?: Node; json?: boolean } {
  if (rest === '') return {};
  const arr = parseJsonArray(rest);
  if (arr) return { next: chain(arr), json: true };
  return { next: mkNode(rest) };
}

function parseMaybeJsonToList(rest: string): { next?: Node; json?: boolean } {
  const arr = parseJsonArray(rest);
  if (arr) return { next: chain(arr), json: true };
  return parseWhitespaceList(rest);
}

function kvNodes(triples: [string, string, string][]): Node | undefined {
  return chain(triples.flat());
}

/** `KEY name value` (legacy, separator "") or `KEY a=b c=d` (separator "="). */
function parseNameVal(rest: string, key: string, esc: string): Node | undefined {
  const words = parseWords(rest, esc);
  if (words.length === 0) return undefined;
  if (!words[0]!.includes('=')) {
    const m = WS.exec(rest);
    if (!m) throw new LineError(`${key} must have two arguments`);
    return kvNodes([[rest.slice(0, m.index), rest.slice(m.index + m[0].length), '']]);
  }
  const triples: [string, string, string][] = [];
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq < 0) throw new LineError(`Syntax error - can't find = in ${JSON.stringify(w)}. Must be of the form: name=value`);
    triples.push([w.slice(0, eq), w.slice(eq + 1), '=']);
  }
  return kvNodes(triples);
}

function parseHealthcheck(rest: string): { next?: Node; json?: boolean } {
  let sep = 0;
  while (sep < rest.length && !isSpace(rest[sep]!)) sep++;
  if (sep === 0) return {};
  let next = sep;
  while (next < rest.length && isSpace(rest[next]!)) next++;
  const cmd = parseMaybeJson(rest.slice(next));
  return { next: mkNode(rest.slice(0, sep), { next: cmd.next }), json: cmd.json };
}
