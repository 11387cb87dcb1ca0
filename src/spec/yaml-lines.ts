// Source lines of every key and item of a YAML text (dotted path → 1-based line),
// computed with the full `yaml` parser. It is slower than the value parser
// (yaml-read.ts uses js-yaml), so it runs only when a message needs a line.

import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Node as YamlNode } from 'yaml';
import { formatPath } from './yaml-read.js';

/** Lines of all documents of `text`; the first document that has a path wins. Never throws. */
export function lineTable(text: string): Map<string, number> {
  const lines = new Map<string, number>();
  try {
    const lc = new LineCounter();
    const all = parseAllDocuments(text, { lineCounter: lc, merge: true, uniqueKeys: false });
    for (const doc of Array.isArray(all) ? all : []) walk(doc.contents as YamlNode | null, [], '', lines, lc, [], []);
  } catch {
    /* a partial table is still useful */
  }
  return lines;
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
      if (k.range && !lines.has(childKey)) lines.set(childKey, line);
      path.push(name);
      walk(pair.value as YamlNode | null, path, childKey, lines, lc, errs, tags);
      path.pop();
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      const it = item as YamlNode | null;
      const childKey = path.length === 0 ? String(i) : `${key}.${i}`;
      if (it && it.range && !lines.has(childKey)) lines.set(childKey, lc.linePos(it.range[0]).line);
      path.push(i);
      walk(it, path, childKey, lines, lc, errs, tags);
      path.pop();
    });
  }
}
