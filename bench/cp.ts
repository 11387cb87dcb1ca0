// `cp` throughput: a 50 MB tree (500 files of 100 KB in 20 directories, plus
// links) copied into a running container and back out, beside GNU `cp -a` on the
// host for scale. Prints medians of RUNS runs.   Run: bash bench/cp.sh
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Containers } from '../src/engine/runtime/containers.js';
import { makeTemp, rmTemp } from '../test/helpers/rootfs.js';
import { OverlayRootfs, mountsUnder, runtimes } from '../test/engine-runtime/helpers.js';

const RUNS = Number(process.env.RUNS ?? 5);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function main(): Promise<void> {
  const base = makeTemp('tsstack-bench-cp-');
  const c = new Containers({ root: join(base, 'root'), runRoot: join(base, 'run'), images: new OverlayRootfs(base), runtime: runtimes()[0]! });
  try {
    const tree = join(base, 'tree');
    for (let d = 0; d < 20; d++) {
      mkdirSync(join(tree, `d${d}`), { recursive: true });
      for (let f = 0; f < 25; f++) writeFileSync(join(tree, `d${d}`, `f${f}`), randomBytes(100 * 1024));
      symlinkSync(`f0`, join(tree, `d${d}`, 'link'));
    }
    await c.create({
      name: 'bench', image: 'busybox', imageId: 'sha256:busybox', labels: {}, args: ['sleep', '100000'], env: [], cwd: '/', hostname: 'bench',
      mounts: [], endpoints: [], networkMode: 'none', ports: [], resources: {}, restart: 'no', stopSignal: 'SIGKILL', stopGracePeriod: 1000,
    });
    await c.start('bench');
    const tin: number[] = [], tout: number[] = [], tcp: number[] = [], cin: number[] = [], cout: number[] = [];
    const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
    for (let i = 0; i < RUNS; i++) {
      await c.execCapture('bench', ['rm', '-rf', '/tree']);
      rmSync(join(base, 'out'), { recursive: true, force: true });
      rmSync(join(base, 'gnu'), { recursive: true, force: true });
      execFileSync('sync');
      let t0 = performance.now(), c0 = process.cpuUsage();
      await c.copy('bench', tree, 'bench:/tree', 'in');
      tin.push(performance.now() - t0);
      cin.push(cpuMs(process.cpuUsage(c0)));
      t0 = performance.now(); c0 = process.cpuUsage();
      await c.copy('bench', 'bench:/tree', join(base, 'out'), 'out');
      tout.push(performance.now() - t0);
      cout.push(cpuMs(process.cpuUsage(c0)));
      t0 = performance.now();
      execFileSync('cp', ['-a', tree, join(base, 'gnu')]);
      tcp.push(performance.now() - t0);
    }
    // CPU time (user + system of this process, the kernel's copying included) is steadier than wall time on a busy machine
    console.log(`cp 50 MB tree (500 files, 20 dirs, 20 links), median of ${RUNS}: in ${median(tin).toFixed(0)} ms (CPU ${median(cin).toFixed(0)} ms), `
      + `out ${median(tout).toFixed(0)} ms (CPU ${median(cout).toFixed(0)} ms); GNU cp -a on the host ${median(tcp).toFixed(0)} ms`);
  } finally {
    await c.remove('bench', { force: true }).catch(() => {});
    for (const m of mountsUnder(base).reverse()) execFileSync('umount', ['-l', m]);
    rmTemp(base);
  }
}

await main();
