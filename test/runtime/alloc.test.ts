// native/runtime/alloc.c, the runtime's allocator, linked into a checker in place of the C library's
// malloc (test/runtime/alloc_check.c) with the compilers the build uses: the system's, and musl-gcc when
// installed (the runtime's own, scripts/build-native.mjs).
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';

const root = process.cwd();
const dir = makeTemp('tsstack-alloc-');
test.after.always(() => rmTemp(dir));

function has(cc: string): boolean {
  try {
    execFileSync(cc, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

for (const cc of [process.env.CC ?? 'cc', 'musl-gcc']) {
  const run = has(cc) ? test : test.skip;
  run(`alloc: random allocations keep their bytes, alignments and zeroing hold (${cc})`, (t) => {
    const bin = join(dir, `alloc-${cc.replace(/\W/g, '_')}`);
    execFileSync(cc, ['-O1', '-std=gnu11', '-D_GNU_SOURCE', '-static', '-o', bin, resolve(root, 'test/runtime/alloc_check.c'), resolve(root, 'native/runtime/alloc.c')]);
    t.is(execFileSync(bin, { encoding: 'utf8' }).trim(), 'OK');
  });
}
