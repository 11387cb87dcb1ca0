// `tsstack config` prints a stack file: loading that output again gives the same
// model, so `config` → load → `config` is a fixed point — for every stack file in
// ../shared/conformance that loads (with no environment), and for literal `$`s.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { loadStack } from '../../src/stack/load.js';
import { renderStack } from '../../src/stack/render.js';
import { needs } from '../helpers/skip.js';
import { CONFORMANCE, haveConformance } from './conformance.js';
import { project } from './helpers.js';
import { yamlFilesBelow } from '../helpers/yaml-files.js';

/** The printed form of `file`'s stack, and of that output loaded again (from a directory of its own). */
async function twice(file: string, format: 'yaml' | 'json', env: Record<string, string> = {}): Promise<[string, string] | undefined> {
  let first: string;
  try {
    first = renderStack(await loadStack({ files: [file], env }), format);
  } catch {
    return undefined; // does not load without its inputs: not this test's concern
  }
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-roundtrip-'));
  try {
    const out = join(dir, `out.${format === 'json' ? 'json' : 'yaml'}`);
    writeFileSync(out, first);
    return [first, renderStack(await loadStack({ files: [out], env }), format)];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a literal $ is printed as $$ and loads back as one $ (yaml and json)', async (t) => {
  const dir = project(t, { 'compose.yaml': 'services:\n  a:\n    image: a\n    command: echo $$HOME ${X}\n    environment:\n      P: "a$$b"\n    labels:\n      l: "$${NOT}"\n' });
  for (const format of ['yaml', 'json'] as const) {
    const r = await twice(join(dir, 'compose.yaml'), format, { X: 'x', HOME: '/host-home' });
    t.truthy(r);
    const [first, second] = r!;
    t.is(second, first, format);
    t.true(first.includes('$$HOME'), first);
    t.false(first.includes('/host-home'), 'the host HOME never reaches the output');
    const m = await loadStack({ files: [join(dir, 'compose.yaml')], env: { X: 'x' } });
    t.deepEqual(m.services.a!.command, ['echo', '$HOME', 'x']);
  }
});

needs('conformance')('config → load → config is a fixed point for every conformance stack file that loads', async (t) => {
  let loaded = 0;
  const differ: string[] = [];
  for (const f of yamlFilesBelow(CONFORMANCE)) {
    const r = await twice(f, 'yaml');
    if (!r) continue;
    loaded++;
    if (r[0] !== r[1]) differ.push(f.slice(CONFORMANCE.length + 1));
  }
  t.log(`${loaded} stack files load; ${differ.length} differ after a round trip`);
  t.true(loaded > 50, `only ${loaded} files loaded`);
  t.deepEqual(differ, []);
});
