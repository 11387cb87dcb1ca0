// BuildKit's `AST.Dump()` text format, used by the parser conformance cases:
// `(cmd ["--flag"] "arg" …)` per instruction, strings quoted as Go's
// strconv.Quote does.

import type { Node } from './parser.js';

/** Go `strconv.Quote`: escapes `"` `\` and control characters; printable Unicode is kept. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    switch (ch) {
      case '"': out += '\\"'; continue;
      case '\\': out += '\\\\'; continue;
      case '\x07': out += '\\a'; continue;
      case '\b': out += '\\b'; continue;
      case '\f': out += '\\f'; continue;
      case '\n': out += '\\n'; continue;
      case '\r': out += '\\r'; continue;
      case '\t': out += '\\t'; continue;
      case '\v': out += '\\v'; continue;
    }
    if (cp === 0x20 || /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch)) { out += ch; continue; }
    if (cp < 0x80) out += '\\x' + cp.toString(16).padStart(2, '0');
    else if (cp < 0x10000) out += '\\u' + cp.toString(16).padStart(4, '0');
    else out += '\\U' + cp.toString(16).padStart(8, '0');
  }
  return out + '"';
}

/** Dump of one node (an instruction, or the root when `value` is ''), without the trailing newline. */
export function dumpNode(node: Pick<Node, 'value' | 'flags' | 'children' | 'next'>): string {
  let str = node.value.toLowerCase();
  if (node.flags.length > 0) str += ' [' + node.flags.map(goQuote).join(' ') + ']';
  for (const c of node.children) str += '(' + dumpNode(c) + ')\n';
  for (let n = node.next; n; n = n.next) {
    str += ' ' + (n.children.length > 0 ? dumpNode(n) : goQuote(n.value));
  }
  return str.trim();
}

/** Dump of a whole file, as in `result` files (ends with a newline). */
export function dumpAst(children: Node[]): string {
  return dumpNode({ value: '', flags: [], children, next: undefined }) + '\n';
}
