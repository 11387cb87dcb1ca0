// Logging bench: a busybox container writing 20 000 lines of ~100 bytes (≈2 MB), from start to
// exit, under the log settings a stack file can pick: json-file with the default rotation
// (10 MiB × 3: no rotation here), json-file with max-size 64k / max-file 2 (≈30 rotations), and
// driver none (no log). Prints medians and the ratio to `none` (the cost of keeping the log).
// Usage (as root, in a mount namespace): node dist/bench/keys-logging.js [runs] [runtime]
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import type { ContainerCreateSpec } from '../src/engine/api.js';
import { Containers } from '../src/engine/runtime/containers.js';
import { makeTemp, rmTemp } from '../test/helpers/rootfs.js';
import { OverlayRootfs, mountsUnder } from '../test/engine-runtime/helpers.js';

const LINES = 20000;
const ARGS = ['sh', '-c', `i=0; while [ $i -lt ${LINES} ]; do echo "line $i 01234567890123456789012345678901234567890123456789012345678901234567890123456789"; i=$((i+1)); done`];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 5);
  const runtime = process.argv[3] ?? 'tsstack-runtime';
  const base = makeTemp('tsstack-bench-logging-');
  const fs = new OverlayRootfs(base);
  const c = new Containers({ root: join(base, 'root'), runRoot: join(base, 'run'), images: fs, runtime });
  const modes: [string, Partial<ContainerCreateSpec>][] = [
    ['json-file (default 10m x 3)', {}],
    ['json-file max-size 64k, max-file 2', { logMaxSize: 64 * 1024, logMaxFiles: 2 }],
    ['none', { logDriver: 'none' }],
  ];
  const results: Record<string, number[]> = {};
  let n = 0;
  try {
    for (let r = 0; r < runs; r++) {
      for (const [name, extra] of modes) {
        const spec: ContainerCreateSpec = {
          name: `bench${++n}`, image: 'busybox', imageId: 'sha256:busybox', labels: {}, args: ARGS, env: [], cwd: '/', hostname: 'bench',
          mounts: [], endpoints: [], networkMode: 'none', ports: [], resources: {}, restart: 'no', stopSignal: 'SIGTERM', stopGracePeriod: 1000, ...extra,
        };
        await c.create(spec);
        const t0 = performance.now();
        await c.start(spec.name);
        const code = await c.wait(spec.name);
        (results[name] ??= []).push(performance.now() - t0);
        if (code !== 0) throw new Error(`${name}: exit ${code}`);
        await c.remove(spec.name, { force: true });
      }
    }
    const none = median(results.none!);
    console.log(`runtime ${runtime}, ${LINES} lines (~2 MB) per run, ${runs} runs, start → exit`);
    for (const [name] of modes) {
      const m = median(results[name]!);
      console.log(`${name.padEnd(36)} median ${m.toFixed(1)} ms   ratio to none ${(m / none).toFixed(2)}`);
    }
  } finally {
    for (const x of await c.list()) await c.remove(x.id, { force: true }).catch(() => {});
    for (const m of mountsUnder(base).reverse()) execFileSync('umount', ['-l', m]);
    rmTemp(base);
  }
}

await main();
