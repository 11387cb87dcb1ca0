// "No unknown fields": kubernetes-models' compiled validators check types, enums and required fields but
// let unknown fields through (as the OpenAPI definitions, which do not say additionalProperties: false).
// The package's .d.ts files are generated from the same definitions and list every field of every
// type, so this walks an object against them and names each field the API does not define. It reads
// only the regular shape those generated files have (one interface per file, `"field"?: Type;`).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MODULES = fileURLToPath(new URL('../../../../node_modules/', import.meta.url));

interface Iface {
  file: string;
  props: Map<string, string>;
  imports: Map<string, string>;
}

const cache = new Map<string, Iface>();

function parse(file: string): Iface {
  const hit = cache.get(file);
  if (hit) return hit;
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  const imports = new Map<string, string>();
  for (const m of text.matchAll(/import \{([^}]+)\} from "([^"]+)";/g)) {
    const spec = m[2]!;
    const target = spec.startsWith('.') ? join(dirname(file), spec.replace(/\.js$/, '.d.ts')) : join(MODULES, `${spec}.d.ts`);
    for (const n of m[1]!.split(',')) imports.set(n.trim().split(/\s+as\s+/).pop()!, target);
  }
  const props = new Map<string, string>();
  const body = /export interface \w+[^{]*\{\n([\s\S]*?)\n\}/.exec(text)?.[1] ?? '';
  let cur: { key: string; type: string } | undefined;
  const flush = () => cur && props.set(cur.key, cur.type.trim().replace(/;$/, ''));
  for (const line of body.split('\n')) {
    const m = /^ {4}"([^"]+)"\??: (.*)$/.exec(line);
    if (m) {
      flush();
      cur = { key: m[1]!, type: m[2]! };
    } else if (cur) cur.type += `\n${line}`;
  }
  flush();
  const iface = { file, props, imports };
  cache.set(file, iface);
  return iface;
}

function check(value: unknown, type: string, where: Iface, path: string, out: string[]): void {
  type = type.trim();
  const arr = /^Array<([\s\S]+)>$/.exec(type);
  if (arr) {
    if (Array.isArray(value)) value.forEach((v, i) => check(v, arr[1]!, where, `${path}[${i}]`, out));
    return;
  }
  const map = /^\{\s*\[key: string\]:\s*([\s\S]+?);?\s*\}$/.exec(type);
  if (map) {
    if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) check(v, map[1]!, where, `${path}.${k}`, out);
    return;
  }
  if (/^\w+$/.test(type) && where.imports.has(type)) {
    let target: Iface;
    try {
      target = parse(where.imports.get(type)!);
    } catch {
      return; // a type from a package file this reader does not know (base types): nothing to check
    }
    if (target.props.size) walk(value, target, path, out);
  }
}

function walk(value: unknown, iface: Iface, path: string, out: string[]): void {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return;
  for (const [k, v] of Object.entries(value)) {
    const t = iface.props.get(k);
    if (t === undefined) out.push(`${path}.${k}: not a field of ${iface.file.slice(MODULES.length)}`);
    else check(v, t, iface, `${path}.${k}`, out);
  }
}

/** Fields of `obj` that its kind's schema does not define. */
export function unknownFields(obj: { apiVersion: string; kind: string }): string[] {
  const out: string[] = [];
  walk(obj, parse(join(MODULES, 'kubernetes-models', obj.apiVersion, `${obj.kind}.d.ts`)), obj.kind, out);
  return out;
}
