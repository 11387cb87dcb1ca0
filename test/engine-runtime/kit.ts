// containerKit(): registers ava hooks, so it lives apart from helpers.ts, which benches import too.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Containers } from '../../src/engine/runtime/containers.js';
import type { ContainerDeps } from '../../src/engine/runtime/deps.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';
import { OverlayRootfs, mountsUnder } from './helpers.js';

/**
 * The container tests' common ground: one busybox overlay root for the test file (made before its
 * tests, unmounted and removed after them) and `engine(t, runtime)`, a Containers on a root of its own
 * whose teardown force-removes whatever a failed test left.
 */
export function containerKit(prefix: string) {
  const base = makeTemp(prefix);
  let fs: OverlayRootfs | undefined;
  test.before(() => { fs = new OverlayRootfs(base); });
  test.after.always(() => {
    for (const m of mountsUnder(base).reverse()) execFileSync('umount', ['-l', m]);
    rmTemp(base);
  });
  let n = 0;
  return {
    base,
    engine(t: { teardown: (f: () => Promise<void>) => void }, runtime: string, extra: Partial<ContainerDeps> = {}) {
      const dir = join(base, `e${++n}`);
      mkdirSync(dir, { recursive: true });
      const c = new Containers({ root: join(dir, 'root'), runRoot: join(dir, 'run'), images: fs!, runtime, ...extra });
      t.teardown(async () => {
        for (const x of await c.list()) await c.remove(x.id, { force: true }).catch(() => {});
      });
      return { c, dir };
    },
  };
}
