// The engine, the planner and the commands people type sort with byCodeUnits (src/util/compare.ts), never
// with localeCompare or Intl.Collator: the first collation of a process loads ICU's data, 7–8 ms of every
// `run --rm` and `up` that made one (a container's namespaces were sorted so at each create). The cluster
// exports (src/deploy/), which run once per deploy, may.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const SRC = join(process.cwd(), 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return p === join(SRC, 'deploy') ? [] : sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

test('no source outside src/deploy/ collates strings (localeCompare, Intl.Collator)', (t) => {
  const files = sources(SRC);
  t.true(files.length > 100, 'the sources were found');
  const found = files.filter((f) => /\blocaleCompare\s*\(|\bIntl\.Collator\b/.test(readFileSync(f, 'utf8').replace(/\/\/.*$/gm, '')));
  t.deepEqual(found.map((f) => f.slice(SRC.length + 1)), []);
});

test('byCodeUnits orders as < does, the same in every locale', async (t) => {
  const { byCodeUnits } = await import('../../src/util/compare.js');
  t.deepEqual(['b', 'a_b', 'a-b', 'B', 'a', '10', '9'].sort(byCodeUnits), ['10', '9', 'B', 'a', 'a-b', 'a_b', 'b']);
  t.is(byCodeUnits('x', 'x'), 0);
});
