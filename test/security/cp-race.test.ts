// Attack: a running container keeps swapping a directory with a symlink while
// `cp` (and develop.watch sync, which copies the same way) works on a path
// through it. The links point at `/` and at a directory the test made on the
// host: followed on the host, a copy in would land in that directory and a copy
// out would return its file. 150 copies each way; not one may touch the host.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runtimes } from '../engine-runtime/helpers.js';
import { containerKit, plainSpec } from '../engine-runtime/kit.js';
import { needs } from '../helpers/skip.js';

const { engine } = containerKit('tsstack-cp-race-');
const COPIES = 150;
const rt = runtimes()[0];

/** Swaps each pair of paths (a directory and a link) with one atomic renameat2(RENAME_EXCHANGE), in a loop: the path always exists, as one or the other. */
const SWAPPER = String.raw`#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(int argc, char **argv) {
  for (;;) for (int i = 1; i + 1 < argc; i += 2) syscall(SYS_renameat2, AT_FDCWD, argv[i], AT_FDCWD, argv[i + 1], 2 /* RENAME_EXCHANGE */);
}
`;

function buildSwapper(dir: string): string | undefined {
  try {
    writeFileSync(join(dir, 'swap.c'), SWAPPER);
    execFileSync('cc', ['-static', '-O2', '-o', join(dir, 'swap'), join(dir, 'swap.c')], { stdio: 'ignore' });
    return join(dir, 'swap');
  } catch {
    return undefined;
  }
}

const maybe = needs('root', 'runtime').serial;

maybe('a container swapping a directory with a link to the host cannot redirect cp in or out', async (t) => {
  const { c, dir } = engine(t, rt!);
  const hostDir = join(dir, 'host-target'); // what the links name, were they followed on the host
  mkdirSync(hostDir);
  writeFileSync(join(hostDir, 'f'), 'HOST SECRET\n');
  const swapper = buildSwapper(dir);
  if (!swapper) { t.fail('cannot build the swapper (cc -static)'); return; }
  // /w/d alternates between a directory and a link to hostDir, /w/e between a directory and a link to /
  const swap = [
    'mkdir -p /w/d /w/e', 'echo container > /w/d/f', `mkdir -p /w/e${hostDir}`, `echo container > /w/e${hostDir}/f`,
    `ln -s ${hostDir} /w/lnk`, 'ln -s / /w/lnk2',
    'while [ ! -x /swap ]; do sleep 0.05; done', 'touch /w/ready', 'exec /swap /w/d /w/lnk /w/e /w/lnk2',
  ].join('; ');
  const info = await c.create(plainSpec('race', ['sh', '-c', swap]));
  await c.start(info.id);
  await c.copy('race', swapper, 'race:/swap', 'in');
  for (let i = 0; i < 100 && (await c.execCapture('race', ['test', '-e', '/w/ready'])).code !== 0; i++) await new Promise((r) => setTimeout(r, 50));

  const src = join(dir, 'src');
  mkdirSync(join(src, 'pkg'), { recursive: true });
  writeFileSync(join(src, 'planted'), 'from cp\n');
  writeFileSync(join(src, 'pkg', 'planted'), 'from cp\n');
  const inner = (n: number, leaf: string) => (n % 2 ? `/w/d/${leaf}` : `/w/e${hostDir}/${leaf}`);
  let inOk = 0, outOk = 0, inLeaks = 0;
  const leaked: string[] = [];
  for (let n = 0; n < COPIES; n++) {
    // a file to a new name, and every third time a directory into the swapped one
    const [from, to] = n % 3 === 2 ? [join(src, 'pkg'), inner(n, '')] : [join(src, 'planted'), inner(n, 'planted')];
    try { await c.copy('race', from, `race:${to}`, 'in'); inOk++; } catch { /* the path was a link at that moment */ }
    const escaped = readdirSync(hostDir).filter((e) => e !== 'f');
    if (escaped.length) inLeaks++;
    for (const e of escaped) rmSync(join(hostDir, e), { recursive: true, force: true });
    const got = join(dir, `out-${n}`);
    try {
      await c.copy('race', `race:${inner(n, 'f')}`, got, 'out');
      outOk++;
      if (readFileSync(got, 'utf8') !== 'container\n') leaked.push(`copy out ${n} returned ${JSON.stringify(readFileSync(got, 'utf8'))}`);
    } catch { /* as above */ }
    rmSync(got, { force: true });
  }
  t.log(`copies that succeeded: ${inOk} in, ${outOk} out of ${COPIES} each; reached the host: ${inLeaks} in, ${leaked.length} out`);
  t.is(inLeaks, 0, 'no copy in wrote into the host directory');
  t.deepEqual(readdirSync(hostDir), ['f']);
  t.is(readFileSync(join(hostDir, 'f'), 'utf8'), 'HOST SECRET\n');
  t.deepEqual(leaked, [], 'no copy out read the host');
  t.false(existsSync('/planted') || existsSync('/pkg'), 'nothing was copied into the host root');
  t.true(inOk > 0 && outOk > 0, 'copies through the directory still work while it is one');
  await c.remove('race', { force: true });
});
