// A shared cgroup parent that comes and goes (the engine removes `tsstack/` with
// its last container) must never make a concurrent create fail: a parent another
// process has just made may not have its v1 cpuset filled in yet, and one that
// vanishes mid-walk must be made again.
import test from 'ava';
import { skipWhen } from '../helpers/skip.js';
import { existsSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { baseConfig, makeTemp, rmTemp, rtAsync, runtimes, sharedRootfs, uniqueId, writeBundle } from './_runtime.js';

const CG = '/sys/fs/cgroup';

function parentDirs(parent: string): string[] {
  if (existsSync(join(CG, 'cgroup.controllers'))) return [join(CG, parent)];
  return readdirSync(CG).map((h) => join(CG, h, parent));
}

const r = runtimes().find((x) => x.name === 'tsstack-runtime')!;
skipWhen(r.skip, r.skip).serial('tsstack-runtime: containers start while their shared cgroup parent is removed and made again', async (t) => {
  const dir = makeTemp('tsstack-cgrace-');
  const parent = uniqueId('tsrace');
  let stop = false;
  // Removes the parent whenever it is empty, as fast as it can, while containers start.
  const remover = (async () => {
    while (!stop) {
      for (const d of parentDirs(parent)) try { rmdirSync(d); } catch { /* absent or in use */ }
      await new Promise((res) => setImmediate(res));
    }
  })();
  try {
    const rootfs = sharedRootfs(dir);
    const failures: string[] = [];
    for (let round = 0; round < 24; round++) {
      const runs = Array.from({ length: 4 }, async () => {
        const id = uniqueId('race');
        const bundle = writeBundle(join(dir, id), baseConfig(rootfs, ['true'], `${parent}/${id}`));
        const res = await rtAsync(r, join(dir, 'state'), ['run', '--bundle', bundle, id]);
        if (res.code !== 0) failures.push(`${id}: exit ${res.code}: ${res.stderr.trim()}`);
      });
      await Promise.all(runs);
    }
    t.deepEqual(failures, []);
  } finally {
    stop = true;
    await remover;
    for (const d of parentDirs(parent)) {
      for (const c of existsSync(d) ? readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()) : []) try { rmdirSync(join(d, c.name)); } catch { /* busy */ }
      try { rmdirSync(d); } catch { /* absent */ }
    }
    rmTemp(dir);
  }
  t.deepEqual(parentDirs(parent).filter((d) => existsSync(d)), []);
});
