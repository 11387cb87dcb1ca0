// A container's overlay root: mount(2)/umount2(2) through koffi (what image/mount.ts and
// runtime/umount.ts do) against spawning mount(8)/umount(8), on the same busybox layer.
// Run: bash bench/overlay-mount.sh   (RUNS=N, default 40). Prints medians.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ImageStore } from '../src/engine/image/store.js';
import { makeBusyboxImage } from '../test/helpers/images.js';
import { makeTemp, rmTemp } from '../test/helpers/rootfs.js';

const RUNS = Number(process.env.RUNS ?? 40);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

const koffi = createRequire(import.meta.url)('koffi');
const libc = koffi.load('libc.so.6');
const mount = libc.func('int mount(const char *s, const char *t, const char *f, unsigned long fl, const char *d)') as (s: string, t: string, f: string, fl: number, d: string) => number;
const umount2 = libc.func('int umount2(const char *t, int f)') as (t: string, f: number) => number;

const root = makeTemp('tsstack-bench-mount-');
try {
  await makeBusyboxImage(new ImageStore({ root }));
  if (!readdirSync(join(root, 'layers')).some((n) => /^[0-9a-f]{64}$/.test(n))) throw new Error('no layer');
  const layers = join(root, 'layers');
  const layer = readdirSync(layers).find((n) => /^[0-9a-f]{64}$/.test(n));
  const lower = `${layer}/diff`; // relative to the layers dir, as mount(8) gets it
  const sys = { mount: [] as number[], umount: [] as number[] };
  const spawned = { mount: [] as number[], umount: [] as number[] };
  for (let i = 0; i < RUNS; i++) {
    for (const [kind, out] of [['sys', sys], ['spawn', spawned]] as const) {
      const dir = join(root, 'c', `${kind}${i}`);
      for (const d of ['upper', 'work', 'rootfs']) mkdirSync(join(dir, d), { recursive: true });
      const target = join(dir, 'rootfs');
      let t0 = process.hrtime.bigint();
      if (kind === 'sys') {
        if (mount('overlay', target, 'overlay', 0, `lowerdir=${join(layers, lower)},upperdir=${dir}/upper,workdir=${dir}/work`) !== 0) throw new Error(`mount(2) failed: errno ${koffi.errno()} (${lower})`);
      } else {
        execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${dir}/upper,workdir=${dir}/work`, target], { cwd: layers });
      }
      out.mount.push(ms(t0));
      t0 = process.hrtime.bigint();
      if (kind === 'sys') umount2(target, 0);
      else execFileSync('umount', [target]);
      out.umount.push(ms(t0));
    }
  }
  console.log(`overlay mount, median of ${RUNS}: mount(2) ${median(sys.mount).toFixed(2)} ms, mount(8) ${median(spawned.mount).toFixed(2)} ms`);
  console.log(`overlay unmount, median of ${RUNS}: umount2(2) ${median(sys.umount).toFixed(2)} ms, umount(8) ${median(spawned.umount).toFixed(2)} ms`);
} finally {
  rmTemp(root);
}
