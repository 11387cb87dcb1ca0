// The layers import downwards only: reconcile/ reads the parsed model (model/) and never the loader
// (stack/), so a stack key's short syntax cannot reach reconcile unparsed. Scans the import lines.
import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Every module specifier a TypeScript file imports (static, dynamic and `export … from`). */
export function importsOf(text: string): string[] {
  const out: string[] = [];
  const re = /(?:^|[^.\w])(?:import|export)\s*(?:type\s+)?(?:[\w*{}\s,]+?\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;
  for (const m of text.matchAll(re)) out.push((m[1] ?? m[2])!);
  return out;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

test('the import scanner sees every form', (t) => {
  const text = "import { a } from '../stack/x.js';\nimport type { B } from \"../stack/y.js\";\nexport { c } from '../stack/z.js';\nconst d = await import('../stack/w.js');\nimport '../stack/side.js';\n// from '../stack/comment.js' is not an import\n";
  t.deepEqual(importsOf(text), ['../stack/x.js', '../stack/y.js', '../stack/z.js', '../stack/w.js', '../stack/side.js']);
});

test('src/reconcile imports nothing from src/stack', (t) => {
  const dir = join(root, 'src/reconcile');
  const bad: string[] = [];
  for (const f of tsFiles(dir)) {
    for (const spec of importsOf(readFileSync(f, 'utf8'))) {
      if (spec.startsWith('.') && resolve(dirname(f), spec).startsWith(join(root, 'src/stack') + '/')) bad.push(`${f.slice(root.length + 1)} imports ${spec}`);
    }
  }
  t.deepEqual(bad, [], 'reconcile reads the model (src/model); parsing belongs to the loader (src/stack)');
});
