// The engine root's file system full (a small tmpfs as root): `up -d` fails with an error that says so
// (no internal error, no stack trace), and once space is freed the next `up -d` converges and `down -v`
// leaves nothing.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { isolateNetwork } from '../cli/_netns.js';
import { E2E, world } from '../cli/_world.js';
import { needs } from '../helpers/skip.js';
import { containerIds, PROJECT, residue, scrub, writeStack } from './_trial.js';

isolateNetwork();

/** Writes zeros to `path` until the file system is full. */
function fill(path: string): void {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
  // the last partial blocks too
  const fd2 = openSync(path, 'a');
  try { for (;;) writeSync(fd2, Buffer.alloc(512)); } catch { /* full */ } finally { closeSync(fd2); }
}

needs(...E2E).serial('a full disk under the root: up -d fails clearly, then converges once space is freed; down -v cleans', async (t) => {
  const w = world();
  mkdirSync(w.root);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m,mode=0700', 'tsstack-full', w.root]);
  const file = writeStack(w);
  const T = (...argv: string[]) => w.runEnv({ TSSTACK_PROJECT_NAME: undefined, TSSTACK_NO_CACHE: '1' }, '-f', file, '-p', PROJECT, ...argv);
  const ids: string[] = [];
  let left: string[] = ['not checked'];
  try {
    await w.busybox();
    const filler = join(w.root, 'filler');
    fill(filler);
    const full = await T('up', '-d');
    ids.push(...containerIds(w.root));
    t.log(`up -d on a full disk: exit ${full.code}: ${full.err.split('\n').filter((l) => /^(error|hint|  - )/.test(l)).slice(0, 4).join(' / ')}`);
    t.not(full.code, 0, 'up -d fails on a full disk');
    t.not(full.code, 70, `not an internal error: ${full.err}`);
    t.regex(full.err, /no space left/i, 'the error says the disk is full');
    t.notRegex(full.err, /^\s+at /m, 'no stack trace');
    rmSync(filler);
    const up = await T('up', '-d');
    t.is(up.code, 0, `up -d converges once space is freed: ${up.err}`);
    t.is((await T('plan', '--detailed-exitcode')).code, 0, 'nothing left to do');
    ids.push(...containerIds(w.root));
    const down = await T('down', '-v', '-t', '1');
    t.is(down.code, 0, down.err);
    left = (await residue(w.root, ids)).filter((l) => l !== `mount: ${w.root}`); // the tmpfs itself
    t.deepEqual(left, [], 'down -v leaves nothing');
  } finally {
    if (left.length) scrub(w, ids, false);
    execFileSync('umount', ['-l', w.root]);
    w.dispose();
  }
});
