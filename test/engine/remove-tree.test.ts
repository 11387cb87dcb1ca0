// removeTree (runtime/remove-tree.ts): `rm -rf` of a container's directories, small trees at once,
// big ones finished on the thread pool; links are removed, never followed.
import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeTree } from '../../src/engine/runtime/remove-tree.js';

function scratch(t: { teardown(f: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-rmtree-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A container directory's shape, plus links out of it. */
function container(dir: string, outside: string): void {
  for (const d of ['bundle', 'rootfs', 'upper/etc', 'work/work']) mkdirSync(join(dir, d), { recursive: true });
  for (const f of ['container.json', 'state.json', 'hosts', 'bundle/config.json', 'upper/etc/hosts']) writeFileSync(join(dir, f), 'x');
  symlinkSync(outside, join(dir, 'upper', 'link-to-dir'));
  symlinkSync(join(outside, 'keep'), join(dir, 'upper', 'link-to-file'));
}

for (const [what, limit] of [['small: at once', undefined], ['bigger than the limit: the rest on the thread pool', 3]] as const) {
  test(`a tree is removed whole, ${what}; what links point to stays`, async (t) => {
    const base = scratch(t);
    const outside = join(base, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'keep'), 'kept');
    const dir = join(base, 'c');
    container(dir, outside);
    await removeTree(dir, limit);
    t.false(existsSync(dir));
    t.is(readFileSync(join(outside, 'keep'), 'utf8'), 'kept');
  });
}

test('nothing there is no error; a file is removed', async (t) => {
  const base = scratch(t);
  await removeTree(join(base, 'absent'));
  writeFileSync(join(base, 'f'), 'x');
  await removeTree(join(base, 'f'));
  t.false(existsSync(join(base, 'f')));
});
