// mountOverlay's "already mounted?" check is two stats (a device differing from the parent's), not a
// read of the mount table, whose length grows with every container of the host.
import test from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountOverlay, otherFsMountedAt, unmountOverlay } from '../../src/engine/image/mount.js';
import { needs } from '../helpers/skip.js';

needs('root')('an overlay at a container root is seen by its device; mounting twice mounts once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-ovl-'));
  try {
    mkdirSync(join(dir, 'layers', 'l1'), { recursive: true });
    writeFileSync(join(dir, 'layers', 'l1', 'f'), 'x');
    const c = join(dir, 'c');
    mkdirSync(c);
    t.false(otherFsMountedAt(join(c, 'rootfs')), 'absent: not mounted');
    mkdirSync(join(c, 'rootfs'));
    t.false(otherFsMountedAt(join(c, 'rootfs')), 'a plain directory: not mounted');
    const target = await mountOverlay(join(dir, 'layers'), ['l1'], c);
    t.true(otherFsMountedAt(target));
    await mountOverlay(join(dir, 'layers'), ['l1'], c);
    const lines = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4] === target).length;
    t.is(lines(), 1);
    await unmountOverlay(c);
    t.false(otherFsMountedAt(target));
    t.is(lines(), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
