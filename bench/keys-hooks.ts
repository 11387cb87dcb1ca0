// Lifecycle hooks and volumes_from bench: what a `post_start: [true]` hook adds to start() and a
// `pre_stop: [true]` hook to stop() (one runtime exec each), under tsstack-runtime and runc; and the
// create() time of a container with volumesFrom another (8 binds) against the same 8 binds given directly.
// Prints medians and ratios.
// Usage (as root, in a mount namespace): node dist/bench/keys-hooks.js [runs]
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerCreateSpec, Mount } from '../src/engine/api.js';
import { Containers } from '../src/engine/runtime/containers.js';
import { OverlayRootfs, mountsUnder, runtimes } from '../test/engine-runtime/helpers.js';
import { makeTemp, rmTemp } from '../test/helpers/rootfs.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const LOOP = ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.05; done'];

function spec(name: string, extra: Partial<ContainerCreateSpec> = {}): ContainerCreateSpec {
  return {
    name, image: 'busybox', imageId: 'sha256:busybox', labels: {}, args: LOOP, env: [], cwd: '/', hostname: name, mounts: [], endpoints: [],
    networkMode: 'none', ports: [], resources: {}, restart: 'no', stopSignal: 'SIGTERM', stopGracePeriod: 2000, ...extra,
  };
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 7);
  const base = makeTemp('tsstack-bench-hooks-');
  try {
    const fs = new OverlayRootfs(base);
    const binds: Mount[] = [];
    for (let i = 0; i < 8; i++) {
      mkdirSync(join(base, `b${i}`));
      binds.push({ type: 'bind', source: join(base, `b${i}`), target: `/b${i}` });
    }
    console.log(`${runs} runs each; a container whose main process loops on sleep 0.05 and exits on SIGTERM`);
    for (const rt of runtimes()) {
      const c = new Containers({ root: join(base, rt, 'root'), runRoot: join(base, rt, 'run'), images: fs, runtime: rt });
      let n = 0;
      const cycle = async (extra: Partial<ContainerCreateSpec>) => {
        const info = await c.create(spec(`h${++n}`, extra));
        const t0 = performance.now();
        await c.start(info.id);
        const t1 = performance.now();
        await c.stop(info.id);
        const t2 = performance.now();
        await c.remove(info.id, { force: true });
        return { start: t1 - t0, stop: t2 - t1 };
      };
      const measure = async (extra: Partial<ContainerCreateSpec>) => {
        const xs = [];
        for (let i = 0; i < runs; i++) xs.push(await cycle(extra));
        return { start: median(xs.map((x) => x.start)), stop: median(xs.map((x) => x.stop)) };
      };
      const plain = await measure({});
      const hooked = await measure({ postStart: [{ argv: ['true'] }], preStop: [{ argv: ['true'] }] });
      const src = await c.create(spec('src', { mounts: binds }));
      const createTime = async (extra: Partial<ContainerCreateSpec>) => {
        const xs: number[] = [];
        for (let i = 0; i < runs; i++) {
          const t0 = performance.now();
          const info = await c.create(spec(`v${++n}`, extra));
          xs.push(performance.now() - t0);
          await c.remove(info.id, { force: true });
        }
        return median(xs);
      };
      const direct = await createTime({ mounts: binds });
      const borrowed = await createTime({ volumesFrom: [{ container: 'src' }] });
      await c.remove(src.id, { force: true });
      console.log(`${rt}: start ${plain.start.toFixed(0)} ms, with post_start ${hooked.start.toFixed(0)} ms (+${(hooked.start - plain.start).toFixed(0)} ms, x${(hooked.start / plain.start).toFixed(2)}); ` +
        `stop ${plain.stop.toFixed(0)} ms, with pre_stop ${hooked.stop.toFixed(0)} ms (+${(hooked.stop - plain.stop).toFixed(0)} ms, x${(hooked.stop / plain.stop).toFixed(2)}); ` +
        `create with 8 binds ${direct.toFixed(1)} ms, via volumesFrom ${borrowed.toFixed(1)} ms (x${(borrowed / direct).toFixed(2)})`);
    }
  } finally {
    for (const m of mountsUnder(base).reverse()) execFileSync('umount', ['-l', m]);
    rmTemp(base);
  }
}

await main();
