// native/common/json.c against JSON.parse/JSON.stringify: round trips of
// arbitrary values, and the same accept/reject verdict on arbitrary text.
import test from 'ava';
import fc from 'fast-check';
import { execFileSync, spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';

const root = process.cwd();
const dir = makeTemp('tsstack-json-');
test.after.always(() => rmTemp(dir));
const bin = join(dir, 'json_roundtrip');
execFileSync(process.env.CC ?? 'cc', ['-O1', '-std=gnu11', '-D_GNU_SOURCE', '-I', resolve(root, 'native/common'), '-o', bin,
  resolve(root, 'test/runtime/json_roundtrip.c'), resolve(root, 'native/common/json.c'), resolve(root, 'native/common/tsutil.c')]);

/** Parses every document with the C parser in one process. */
function parseAll(docs: string[]): string[] {
  const out = spawnSync(bin, { input: Buffer.from(docs.join('\0')), maxBuffer: 64 << 20 });
  return out.stdout.toString('utf8').split('\n').slice(0, docs.length);
}

function jsAccepts(s: string): boolean {
  try { JSON.parse(s); return true; } catch { return false; }
}

test('json: arbitrary values round-trip (pretty-printed in, compact out)', (t) => {
  const values = fc.sample(fc.jsonValue({ maxDepth: 6 }), 400);
  const docs = values.map((v) => JSON.stringify(v, null, 2));
  const got = parseAll(docs);
  values.forEach((v, i) => t.is(got[i], `OK ${JSON.stringify(v)}`, docs[i]));
});

test('json: strings with escapes, surrogate pairs and control characters', (t) => {
  const strings = fc.sample(fc.string({ unit: 'grapheme', maxLength: 40 }), 300).concat(['\u0001\b\f\n\r\t"\\/', '😀 é 中', '\u007f']);
  const docs = strings.map((s) => JSON.stringify({ s }).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
  const got = parseAll(docs);
  strings.forEach((s, i) => t.is(got[i], `OK ${JSON.stringify({ s })}`, docs[i]));
});

test('json: accepts exactly what JSON.parse accepts', (t) => {
  const valid = fc.sample(fc.jsonValue({ maxDepth: 4 }), 200).map((v) => JSON.stringify(v));
  const mutated = fc.sample(fc.tuple(fc.constantFrom(...valid), fc.nat(), fc.constantFrom('', ',', '}', ']', '"', ':', '-', '.', 'e', '0', ' ', 'tru', '\\', '\n')), 600)
    .map(([s, at, ins]) => { const k = at % (s.length + 1); return s.slice(0, k) + ins + s.slice(k + (at % 2)); });
  const literals = ['', ' ', '01', '-', '1.', '.5', '1e', '1e+', '+1', '[1,]', '{"a":1,}', '{"a" 1}', '{a:1}', "'x'", '"\\x"', '"\\u12"',
    'nul', 'true false', '"a\u0001"', '[', ']', '{}', '[]', '-0', '1E-7', '"\\ud800"', ' \t\r\n1 '];
  const docs = [...valid, ...mutated, ...literals];
  const got = parseAll(docs);
  docs.forEach((d, i) => t.is(got[i]!.startsWith('OK '), jsAccepts(d), `${JSON.stringify(d)} → ${got[i]}`));
});

test('json: errors name line and column', (t) => {
  const [a, b] = parseAll(['{\n  "x": [1,\n  2,,\n]}', '{"a": tru}']);
  t.is(a, 'ERR line 3 column 5: unexpected character');
  t.is(b, 'ERR line 1 column 7: unexpected token');
});
