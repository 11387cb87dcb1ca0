// The line table of a YAML text (dotted path → 1-based line) from the node events
// js-yaml reports while yaml-read.ts parses it: each node's line and where its text
// ends. A mapping's children arrive as keys and values in order, but a key written
// without a value (`{a, b: 1}`, `? a`) has no value node, so a key is paired with
// the next node only when a `:` follows it in the text. No second parse.

/** One node as js-yaml's listener reported it. */
export interface Frame {
  /** 0-based line where the node starts. */
  line: number;
  /** Offset in the text where the node starts (after its indentation). */
  at: number;
  /** Offset in the text just after the node (where a key's `:` is looked for). */
  end: number;
  /** Count of nodes closed before this one opened (to tell its subtree's closes apart). */
  start: number;
  kind: string | null;
  result: unknown;
  children: Frame[];
}

/** Offset of the first character at or after `at` that is not a space, tab, line break or comment. */
function skipSpace(text: string, at: number): number {
  let i = at;
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
    else if (c === 0x23 /* # */ && (i === 0 || /[\s]/.test(text[i - 1]!))) {
      while (i < text.length && text.charCodeAt(i) !== 0x0a && text.charCodeAt(i) !== 0x0d) i++;
    } else return i;
  }
}

/** js-yaml reports a flow collection that is a block sequence entry twice (the entry around the collection): the inner one. */
function unwrap(f: Frame): Frame {
  let g = f;
  while (g.children.length === 1 && g.children[0]!.result === g.result && g.children[0]!.kind === g.kind) g = g.children[0]!;
  return g;
}

/** A mapping's children as [key, value] pairs (value undefined when written without one); undefined when they do not fit. */
export function pairs(text: string, mapping: Frame): [Frame, Frame | undefined][] | undefined {
  const children = unwrap(mapping).children;
  const out: [Frame, Frame | undefined][] = [];
  for (let i = 0; i < children.length; ) {
    const key = children[i]!;
    if (text.charCodeAt(skipSpace(text, key.end)) === 0x3a /* : */) {
      const value = children[i + 1];
      if (!value) return undefined;
      out.push([key, value]);
      i += 2;
    } else {
      // js-yaml reports one empty node where it looked for a next key and found none
      if (key.kind !== null || key.end !== key.at) out.push([key, undefined]);
      i += 1;
    }
  }
  return out;
}

/** Dotted path → line of every key and item of the documents whose node trees are `roots`; the first document that has a path wins. */
export function frameLines(text: string, roots: Frame[]): Map<string, number> {
  const lines = new Map<string, number>();
  const visit = (f: Frame, prefix: string): void => {
    if (f.kind === 'mapping') {
      // A mapping whose children cannot be paired keeps only its own line (its paths fall back to it).
      for (const [k, v] of pairs(text, f) ?? []) {
        const name = String(k.result);
        if (name === '<<') continue;
        const path = prefix === '' ? name : `${prefix}.${name}`;
        if (!lines.has(path)) lines.set(path, k.line + 1);
        if (v) visit(v, path);
      }
    } else if (f.kind === 'sequence') {
      unwrap(f).children.forEach((c, i) => {
        const path = prefix === '' ? String(i) : `${prefix}.${i}`;
        if (!lines.has(path)) lines.set(path, c.line + 1);
        visit(c, path);
      });
    }
  };
  for (const r of roots) visit(r, '');
  return lines;
}
