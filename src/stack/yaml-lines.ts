// Source lines of every key and item of a YAML text (dotted path → 1-based line),
// computed with the full `yaml` parser. yaml-read.ts takes lines from js-yaml's
// node events; this slower path is used only where those cannot be paired with
// keys (a flow mapping entry without a value), and only when a message needs a line.

import { createRequire } from 'node:module';
import type { LineCounter, Node as YamlNode } from 'yaml';

type Yaml = typeof import('yaml');
let yamlLib: Yaml | undefined;
/** `yaml` is loaded on first use only (~30 ms of start-up; most loads never need it). Its node build is CommonJS. */
const Y = (): Yaml => (yamlLib ??= createRequire(import.meta.url)('yaml') as Yaml);

/** Lines of all documents of `text`; the first document that has a path wins. Never throws. */
export function lineTable(text: string): Map<string, number> {
  const lines = new Map<string, number>();
  try {
    const { LineCounter, parseAllDocuments } = Y();
    const lc = new LineCounter();
    const all = parseAllDocuments(text, { lineCounter: lc, merge: true, uniqueKeys: false });
    for (const doc of Array.isArray(all) ? all : []) walk(doc.contents as YamlNode | null, '', lines, lc);
  } catch {
    /* a partial table is still useful */
  }
  return lines;
}

function walk(node: YamlNode | null, prefix: string, lines: Map<string, number>, lc: LineCounter): void {
  const { isAlias, isMap, isPair, isScalar, isSeq } = Y();
  if (!node || isAlias(node) || isScalar(node)) return;
  const record = (key: string, at: YamlNode | null, value: YamlNode | null) => {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (at?.range && !lines.has(path)) lines.set(path, lc.linePos(at.range[0]).line);
    walk(value, path, lines, lc);
  };
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const k = pair.key as YamlNode | null;
      if (!isScalar(k) || typeof k.value !== 'string' || k.value === '<<') continue;
      record(k.value, k, pair.value as YamlNode | null);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => record(String(i), item as YamlNode | null, item as YamlNode | null));
  }
}
