// removeCgroupDirs (kernel-drivers.ts) over a directory tree laid out as cgroup hierarchies: a removed
// container's leaf goes in every hierarchy, the shared parent (`tsstack/`) only with its last container,
// and directories already gone, or still in use, are no error (rmdirQuiet: no exception either way).
// Plain directories, no kernel: runs as any user.
import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeCgroupDirs } from '../../src/engine/runtime/kernel-drivers.js';
import { rmdirQuiet } from '../../src/util/rmdir-quiet.js';

test('rmdirQuiet: true for an empty directory it removed; false, without throwing, for one absent, not empty or a file', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-rmdir-'));
  try {
    mkdirSync(join(dir, 'empty'));
    mkdirSync(join(dir, 'full', 'child'), { recursive: true });
    writeFileSync(join(dir, 'file'), '');
    t.true(rmdirQuiet(join(dir, 'empty')));
    t.false(existsSync(join(dir, 'empty')));
    t.false(rmdirQuiet(join(dir, 'empty')));
    t.false(rmdirQuiet(join(dir, 'full')));
    t.true(existsSync(join(dir, 'full', 'child')));
    t.false(rmdirQuiet(join(dir, 'file')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a container\'s cgroup directories go in every hierarchy; the shared parent only with its last container; again is no error', (t) => {
  const mount = mkdtempSync(join(tmpdir(), 'tsstack-cgdirs-'));
  try {
    const a = 'a'.repeat(64), b = 'b'.repeat(64);
    for (const h of ['cpu', 'memory', 'pids']) mkdirSync(join(mount, h, 'tsstack', a), { recursive: true });
    mkdirSync(join(mount, 'memory', 'tsstack', b)); // another container, in one hierarchy
    removeCgroupDirs(`tsstack/${a}`, mount);
    for (const h of ['cpu', 'memory', 'pids']) t.false(existsSync(join(mount, h, 'tsstack', a)), h);
    t.false(existsSync(join(mount, 'cpu', 'tsstack')), 'its last container gone: the parent goes');
    t.true(existsSync(join(mount, 'memory', 'tsstack', b)), 'the other container stays');
    t.notThrows(() => removeCgroupDirs(`tsstack/${a}`, mount));
    removeCgroupDirs(`tsstack/${b}`, mount);
    t.false(existsSync(join(mount, 'memory', 'tsstack')));
  } finally {
    rmSync(mount, { recursive: true, force: true });
  }
});
