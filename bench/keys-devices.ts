// Devices bench: what `devices:` costs a container, under tsstack-runtime and runc — create() (stat of the
// host nodes, the OCI config) and start-to-exit of `true` (the runtime's mknod of each node and the
// device cgroup rules), with no devices against 16 mappings of /dev/zero and /dev/null plus 4 rules.
// Prints medians and ratios.
// Usage (as root, in a mount namespace): node dist/bench/keys-devices.js [runs]
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { ContainerCreateSpec } from '../src/engine/api.js';
import { Containers } from '../src/engine/runtime/containers.js';
import { OverlayRootfs, mountsUnder, runtimes } from '../test/engine-runtime/helpers.js';
import { makeTemp, rmTemp } from '../test/helpers/rootfs.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function spec(name: string, extra: Partial<ContainerCreateSpec> = {}): ContainerCreateSpec {
  return {
    name, image: 'busybox', imageId: 'sha256:busybox', labels: {}, args: ['true'], env: [], cwd: '/', hostname: name, mounts: [], endpoints: [],
    networkMode: 'none', ports: [], resources: {}, restart: 'no', stopSignal: 'SIGKILL', stopGracePeriod: 1000, ...extra,
  };
}

/** [create ms, start-to-exit ms] */
async function timeRun(c: Containers, s: ContainerCreateSpec): Promise<[number, number]> {
  const t0 = performance.now();
  const info = await c.create(s);
  const t1 = performance.now();
  await c.start(info.id);
  const code = await c.wait(info.id);
  const t2 = performance.now();
  await c.remove(info.id, { force: true });
  if (code !== 0) throw new Error(`${s.name} exited ${code}`);
  return [t1 - t0, t2 - t1];
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 9);
  const base = makeTemp('tsstack-bench-dev-');
  const devices = Array.from({ length: 16 }, (_, i) => ({ source: i % 2 ? '/dev/null' : '/dev/zero', target: `/dev/bench${i}`, permissions: i % 3 ? 'rw' : 'r' }));
  const deviceCgroupRules = [{ type: 'c' as const, major: 10, minor: 229, access: 'rw' }, { type: 'b' as const, major: 7, access: 'r' }, { type: 'c' as const, major: 4, access: 'rw' }, { type: 'c' as const, access: 'm' }];
  try {
    const fs = new OverlayRootfs(base);
    console.log(`workload: true; ${devices.length} devices + ${deviceCgroupRules.length} rules vs none; ${runs} runs each`);
    for (const rt of runtimes()) {
      const c = new Containers({ root: join(base, rt, 'root'), runRoot: join(base, rt, 'run'), images: fs, runtime: rt });
      let n = 0;
      const measure = async (extra: Partial<ContainerCreateSpec>) => {
        const cr: number[] = [], st: number[] = [];
        for (let i = 0; i < runs; i++) {
          const [a, b] = await timeRun(c, spec(`b${++n}`, extra));
          cr.push(a);
          st.push(b);
        }
        return [median(cr), median(st)] as const;
      };
      const [c0, s0] = await measure({});
      const [c1, s1] = await measure({ devices, deviceCgroupRules });
      console.log(`${rt}: create ${c0.toFixed(1)} → ${c1.toFixed(1)} ms (x${(c1 / c0).toFixed(2)}); start-to-exit ${s0.toFixed(1)} → ${s1.toFixed(1)} ms (x${(s1 / s0).toFixed(2)})`);
    }
  } finally {
    for (const m of mountsUnder(base).reverse()) execFileSync('umount', ['-l', m]);
    rmTemp(base);
  }
}

await main();
