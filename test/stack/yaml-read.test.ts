// The YAML reader: values, the line table, and what it refuses.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import test from 'ava';
import { needs } from '../helpers/skip.js';
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, type Node as YamlNode, parseAllDocuments } from 'yaml';
import { isOverride, isReset, parseYaml } from '../../src/stack/yaml-read.js';
import { isTsstackError } from '../../src/util/errors.js';
import { CONFORMANCE, conformancePath, haveConformance } from './conformance.js';
import { yamlFilesBelow } from '../helpers/yaml-files.js';

function refused(t: import('ava').ExecutionContext, text: string, re: RegExp, line?: number): void {
  const e = t.throws(() => parseYaml('f.yaml', text));
  t.true(isTsstackError(e));
  t.regex(e!.message, re);
  if (line !== undefined) t.is((e as { location?: { line?: number } }).location?.line, line);
}

test('core schema values, octal modes, merge keys, dates stay strings', (t) => {
  const pf = parseYaml('f.yaml', 'x: &x {a: 1}\ny:\n  <<: *x\n  b: 0440\n  c: yes\n  d: 2001-12-14\n  e: ~\n  f: 1.5\n  g: "0440"\n');
  t.deepEqual(pf.value, { x: { a: 1 }, y: { a: 1, b: 288, c: 'yes', d: '2001-12-14', e: null, f: 1.5, g: '0440' } });
});

test('flow collections as block sequence entries are values, not recursive aliases', (t) => {
  const pf = parseYaml('f.yaml', 'w:\n  - { path: ./conf, action: sync }\n  - [a, b]\n  - path: ./site\n');
  t.deepEqual(pf.value, { w: [{ path: './conf', action: 'sync' }, ['a', 'b'], { path: './site' }] });
  refused(t, 'x: &x [ *x ]\n', /recursive alias/, 1);
  refused(t, 'a: &x\n  b: 1\n  c: *x\n', /recursive alias/);
});

test('!reset and !override become markers', (t) => {
  const pf = parseYaml('f.yaml', 'a: !reset []\nb: !override [1]\nc: !reset\nd: !override {k: v}\n');
  const v = pf.value as Record<string, unknown>;
  t.true(isReset(v.a));
  t.true(isReset(v.c));
  t.true(isOverride(v.b));
  t.true(isOverride(v.d));
});

test('lines of keys and items', (t) => {
  const pf = parseYaml('f.yaml', 'services:\n  web:\n    image: a\n    ports:\n      - "80"\n      - target: 81\n');
  t.deepEqual([...pf.lines], [['services', 1], ['services.web', 2], ['services.web.image', 3], ['services.web.ports', 4], ['services.web.ports.0', 5], ['services.web.ports.1', 6], ['services.web.ports.1.target', 6]]);
});

test('several documents in one file are returned separately', (t) => {
  const pf = parseYaml('f.yaml', 'services:\n  a: {image: a}\n---\nservices:\n  b: {image: b}\n');
  t.is(pf.value, null);
  t.is(pf.docs?.length, 2);
});

test('refused: bad syntax (with a caret), duplicate keys, non-string keys, scalar merges, recursion, alias bombs, depth', (t) => {
  refused(t, 'a:\n  b: 1\n c: 2\n', /bad indentation[\s\S]*\^/, 3);
  refused(t, 'a: 1\na: 2\n', /duplicated mapping key/, 2);
  refused(t, 'services:\n  123: {image: a}\n', /non-string key 123 at line 2/, 2);
  refused(t, 's: &s foo\nm:\n  <<: *s\n', /map merge requires map/);
  refused(t, 'a: &a {b: *a}\n', /./);
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...'bcdefgh'.split('').map((c, i) => `${c}: &${c} [${Array(10).fill('*' + 'abcdefgh'[i]).join(', ')}]`)].join('\n') + '\n';
  refused(t, bomb, /excessive aliasing/);
  refused(t, 'a: ' + '['.repeat(150) + ']'.repeat(150) + '\n', /nest/);
});

/** The oracle: the same table from the `yaml` library's full syntax tree (the `yaml` library is not used to read stacks). */
function oracleLines(text: string): Map<string, number> {
  const lines = new Map<string, number>();
  const lc = new LineCounter();
  const walkNode = (node: YamlNode | null, prefix: string): void => {
    if (!node || isAlias(node) || isScalar(node)) return;
    const record = (key: string, at: YamlNode | null, value: YamlNode | null) => {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      if (at?.range && !lines.has(path)) lines.set(path, lc.linePos(at.range[0]).line);
      walkNode(value, path);
    };
    if (isMap(node)) {
      for (const pair of node.items) {
        const k = (isPair(pair) ? pair.key : null) as YamlNode | null;
        if (isScalar(k) && typeof k.value === 'string' && k.value !== '<<') record(k.value, k, pair.value as YamlNode | null);
      }
    } else if (isSeq(node)) node.items.forEach((item, i) => record(String(i), item as YamlNode, item as YamlNode));
  };
  const docs = parseAllDocuments(text, { lineCounter: lc, merge: true, uniqueKeys: false });
  for (const doc of Array.isArray(docs) ? docs : []) walkNode(doc.contents as YamlNode | null, '');
  return lines;
}

test('keys written without a value keep their lines (flow mappings, explicit keys)', (t) => {
  const cases = [
    'services:\n  web:\n    image: a\n    labels: {a, b: 1,\n      c}\n    ports: [80]\n',
    'x: {a, b}\ny:\n  z: 1\n',
    'x:\n  ? a\n  ? b\n  c: 1\n',
    'x: {"a" : 1, b, c: {d}}\n',
  ];
  for (const text of cases) t.deepEqual([...parseYaml('f.yaml', text).lines].sort(), [...oracleLines(text)].sort(), text);
});

needs('conformance')('the fast line table equals the full parser`s on every conformance compose file', (t) => {
  const files = [...yamlFilesBelow(conformancePath('compose-go/loader/testdata')), ...yamlFilesBelow(conformancePath('awesome-compose')), ...yamlFilesBelow(conformancePath('docker-compose/pkg/e2e/testdata')), conformancePath('compose-go/loader/full-example.yml')];
  let compared = 0;
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    let fast: Map<string, number>;
    try {
      fast = parseYaml(f, text).lines;
    } catch {
      continue; // files that are meant to be refused
    }
    t.deepEqual([...fast].sort(), [...oracleLines(text)].sort(), relative(CONFORMANCE, f));
    compared++;
  }
  t.true(compared > 50);
});

test('the project name for ps/logs/down is read without loading the `yaml` library', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-yaml-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'stack.yaml'), 'name: fromfile\nservices:\n  a: {image: busybox, labels: {x, y: 1}}\n');
  writeFileSync(join(dir, 'multi.yaml'), 'name: one\n---\nname: two\n');
  // a resolve hook in the child notes every resolution of the `yaml` package in a file
  const seen = join(dir, 'seen');
  const hook = `import { appendFileSync } from 'node:fs';
export async function resolve(s, c, n) { if (s === 'yaml' || s.startsWith('yaml/')) appendFileSync(${JSON.stringify(seen)}, s + '\\n'); return n(s, c); }`;
  const context = new URL('../../src/cli/context.js', import.meta.url).href;
  const code = `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));
const { Context } = await import(${JSON.stringify(context)});
const io = { out: () => {}, err: () => {}, tty: false, env: { TSSTACK_ROOT: ${JSON.stringify(join(dir, 'root'))}, TSSTACK_RUN_ROOT: ${JSON.stringify(join(dir, 'run'))} }, cwd: ${JSON.stringify(dir)} };
const names = [];
for (const f of ['stack.yaml', 'multi.yaml']) names.push(await new Context({ file: [f] }, io).projectName());
console.log(JSON.stringify(names));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  // several documents: not guessed on the quick path (the loader merges them and names the project)
  t.deepEqual(JSON.parse(r.stdout), ['fromfile', 'two']);
  t.false(existsSync(seen), 'the yaml module was loaded');
});
