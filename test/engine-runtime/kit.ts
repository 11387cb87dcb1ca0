// containerKit(): registers ava hooks, so it lives apart from helpers.ts, which benches import too.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerCreateSpec, LogLine } from '../../src/engine/api.js';
import { Containers } from '../../src/engine/runtime/containers.js';
import type { ContainerDeps } from '../../src/engine/runtime/deps.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';
import { type EngineParts, OverlayRootfs, cgroupLeftovers, engineParts, mountsUnder } from './helpers.js';

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

/** A container with no network and busybox defaults; `extra` sets the rest. */
export function plainSpec(name: string, args: string[], extra: Partial<ContainerCreateSpec> = {}): ContainerCreateSpec {
  return {
    name, image: 'busybox', imageId: 'sha256:busybox', labels: {}, args, env: [], cwd: '/', hostname: name, mounts: [], endpoints: [],
    networkMode: 'none', ports: [], resources: {}, restart: 'no', stopSignal: 'SIGTERM', stopGracePeriod: 1000, ...extra,
  };
}

/** Creates, starts and waits for a container; its exit code and stdout lines. */
export async function runToEnd(c: Containers, s: ContainerCreateSpec): Promise<{ id: string; code: number; out: string[] }> {
  const info = await c.create(s);
  await c.start(info.id);
  const code = await c.wait(info.id);
  const out: string[] = [];
  for await (const l of c.logs(info.id, {}) as AsyncIterable<LogLine>) out.push(l.log);
  return { id: info.id, code, out };
}

/** What a removed container left: mounts, cgroups, its directory. */
export function leftovers(c: Containers, id: string): string[] {
  const out = [...mountsUnder(join(c.root, 'containers', id)), ...cgroupLeftovers(id)];
  if (existsSync(join(c.root, 'containers', id))) out.push('container dir');
  return out;
}

/** Containers over the real engine parts (engineParts) in a new temp dir, or why they are not available (the dir is gone then). */
export async function composedEngine(prefix: string, runtime: string): Promise<(EngineParts & { base: string; root: string; runRoot: string; c: Containers }) | string> {
  const base = makeTemp(prefix);
  const root = join(base, 'root'), runRoot = join(base, 'run');
  const parts = await engineParts(root, runRoot);
  if (typeof parts === 'string') {
    rmTemp(base);
    return parts;
  }
  const c = new Containers({ root, runRoot, images: parts.images, network: parts.network, dns: parts.dns, runtime });
  return { ...parts, base, root, runRoot, c };
}
