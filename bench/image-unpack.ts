// Layer unpack throughput and pull time from a local registry, side by side
// with GNU tar / zstd and skopeo.  Run: bash bench/image-unpack.sh
// Prints medians of N runs; absolute numbers drift between runs, ratios hold.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import { ImageStore } from '../src/engine/image/store.js';
import { unpackLayer } from '../src/engine/image/unpack.js';
import { openTarStream } from '../src/engine/image/decompress.js';
import { writeOciLayout } from '../src/engine/image/archive.js';
import { makeTemp, rmTemp } from '../test/helpers/rootfs.js';
import { startRegistry, skopeoCopy, haveRegistry, haveSkopeo } from '../test/helpers/registry.js';
import { makeBusyboxImage } from '../test/helpers/images.js';

const RUNS = Number(process.env.RUNS ?? 5);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** Medians of two contenders run alternately (A, B, A, B…) so load changes hit both alike. */
async function timePair(runs: number, setup: () => void, a: () => Promise<void> | void, b: () => Promise<void> | void): Promise<[number, number]> {
  const xa: number[] = [];
  const xb: number[] = [];
  for (let i = 0; i < runs; i++) {
    for (const [f, xs] of [[a, xa], [b, xb]] as const) {
      setup();
      execFileSync('sync');
      const t0 = performance.now();
      await f();
      xs.push(performance.now() - t0);
    }
  }
  return [median(xa), median(xb)];
}

/** ~50 MB: one 24 MB file of random bytes, 2400 files of 10 kB of compressible text, in 40 dirs. */
function makeLayerTree(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'big.bin'), randomBytes(24 << 20));
  const text = Buffer.from('tsstack layer bench line of text\n'.repeat(320));
  for (let d = 0; d < 40; d++) {
    mkdirSync(join(dir, `d${d}`));
    for (let f = 0; f < 60; f++) writeFileSync(join(dir, `d${d}`, `f${f}.txt`), text);
  }
}

async function main(): Promise<void> {
  const work = makeTemp('tsstack-bench-');
  try {
    const tree = join(work, 'tree');
    makeLayerTree(tree);
    const plain = join(work, 'layer.tar');
    execFileSync('tar', ['-cf', plain, '-C', tree, '.']);
    const gz = join(work, 'layer.tar.gz');
    writeFileSync(gz, gzipSync(execFileSync('cat', [plain], { maxBuffer: 1 << 30 }), { level: 6 }));
    const zst = join(work, 'layer.tar.zst');
    const haveZstd = (() => { try { execFileSync('zstd', ['-q', '-f', plain, '-o', zst]); return true; } catch { return false; } })();
    const mb = statSync(plain).size / 1e6;
    console.log(`layer: ${mb.toFixed(1)} MB uncompressed (${(statSync(gz).size / 1e6).toFixed(1)} MB gzip${haveZstd ? `, ${(statSync(zst).size / 1e6).toFixed(1)} MB zstd` : ''}), 2401 files; median of ${RUNS} runs`);
    const out = join(work, 'out');
    const fresh = (): void => { rmSync(out, { recursive: true, force: true }); mkdirSync(out); };
    const rows: [string, string, string[]][] = [['plain', plain, ['-xf']], ['gzip', gz, ['-xzf']]];
    if (haveZstd) rows.push(['zstd', zst, ['--zstd', '-xf']]);
    for (const [name, file, tarArgs] of rows) {
      const [ours, gnu] = await timePair(RUNS, fresh,
        async () => { await unpackLayer(openTarStream(file), out, 'bench'); },
        () => { execFileSync('tar', [...tarArgs, file, '-C', out, '--same-owner', '--xattrs']); });
      console.log(`unpack ${name.padEnd(5)}  tsstack ${ours.toFixed(0).padStart(5)} ms ${(mb / (ours / 1000)).toFixed(0).padStart(4)} MB/s | GNU tar ${gnu.toFixed(0).padStart(5)} ms ${(mb / (gnu / 1000)).toFixed(0).padStart(4)} MB/s | ratio ${(ours / gnu).toFixed(2)}x`);
    }

    if (!haveRegistry() || !haveSkopeo()) { console.log('pull: docker-registry or skopeo not installed'); return; }
    const reg = await startRegistry();
    try {
      const srcRoot = join(work, 'src');
      const src = new ImageStore({ root: srcRoot });
      await makeBusyboxImage(src, 'bb:1');
      const layer = await src.addLayer(gz);
      await src.commit({ config: { architecture: 'amd64', os: 'linux' }, layers: [layer], names: ['big:1'] });
      const layout = join(work, 'layout');
      await writeOciLayout(src, ['bb:1'], layout);
      await skopeoCopy(`oci:${layout}:1`, reg.ref('bb:1'));
      const layout2 = join(work, 'layout2');
      await writeOciLayout(src, ['big:1'], layout2);
      await skopeoCopy(`oci:${layout2}:1`, reg.ref('big:1'));
      const root = join(work, 'pull');
      const clean = (): void => { rmSync(root, { recursive: true, force: true }); rmSync(join(work, 'sk'), { recursive: true, force: true }); };
      for (const ref of ['bb:1', 'big:1']) {
        const [ours, sk] = await timePair(RUNS, clean,
          async () => { await new ImageStore({ root }).pull(`${reg.host}/${ref}`); },
          () => skopeoCopy(reg.ref(ref), `oci:${join(work, 'sk')}:x`));
        console.log(`pull ${ref.padEnd(6)} tsstack (download + verify + unpack) ${ours.toFixed(0).padStart(5)} ms | skopeo copy to oci: (download only) ${sk.toFixed(0).padStart(5)} ms | ratio ${(ours / sk).toFixed(2)}x`);
      }
    } finally {
      await reg.stop();
    }
  } finally {
    rmTemp(work);
    if (existsSync(work)) console.error(`could not remove ${work}`);
  }
}

await main();
