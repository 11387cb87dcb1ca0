// Whether a look at a file's stamps makes every later change show (src/engine/stamp-grain.ts):
// the decision's parts, and on this machine the kernel's promise itself when it is said to hold.
import test from 'ava';
import { mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountTypeOf, multigrainFs, multigrainKernel, stampsShowLaterChanges } from '../../src/engine/stamp-grain.js';

test('kernels from 6.13 on', (t) => {
  for (const r of ['6.13.0', '6.18.4-cloud-amd64', '7.0.1', '10.1']) t.true(multigrainKernel(r), r);
  for (const r of ['6.12.48', '6.1.0-28-amd64', '5.19.0', '4.19', 'weird']) t.false(multigrainKernel(r), r);
});

test('ext4, XFS, Btrfs and tmpfs; the ext family only when mounted as ext4', (t) => {
  const no = () => { throw new Error('the mount type is asked only for the ext family'); };
  t.true(multigrainFs(0x58465342, no));
  t.true(multigrainFs(0x9123683e, no));
  t.true(multigrainFs(0x01021994, no));
  t.true(multigrainFs(0xef53, () => 'ext4'));
  t.false(multigrainFs(0xef53, () => 'ext2'));
  t.false(multigrainFs(0xef53, () => undefined));
  t.false(multigrainFs(0x794c7630, no), 'overlayfs');
  t.false(multigrainFs(0x6969, no), 'NFS');
});

test('the mount type of a device, from mountinfo', (t) => {
  const info = [
    '22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw',
    '23 22 0:21 / /proc rw,nosuid shared:2 - proc proc rw',
    '40 22 259:65537 / /data rw master:3 - xfs /dev/nvme0n1p1 rw', // minor above 255
    '41 22 8:17 / /old rw - ext2 /dev/sdb1 rw',
  ].join('\n');
  const dev = (major: number, minor: number) => (minor & 0xff) + (major & 0xfff) * 256 + (minor & ~0xff) * 4096 + (major & ~0xfff) * 2 ** 32;
  t.is(mountTypeOf(info, dev(254, 1)), 'ext4');
  t.is(mountTypeOf(info, dev(0, 21)), 'proc');
  t.is(mountTypeOf(info, dev(259, 65537)), 'xfs');
  t.is(mountTypeOf(info, dev(8, 17)), 'ext2');
  t.is(mountTypeOf(info, dev(8, 18)), undefined);
});

test('the device of a real directory is found in this process\'s mountinfo', (t) => {
  t.truthy(mountTypeOf(readFileSync('/proc/self/mountinfo', 'utf8'), statSync(tmpdir()).dev));
});

// The promise the fingerprint relies on when the check above says yes: a change right after a
// stat, however soon, never leaves a file's stamps (or, for a rename into it, its directory's) as
// the stat read them. Where the check says no, there is nothing of it to test.
const here = mkdtempSync(join(tmpdir(), 'tsstack-grain-'));
const fine = stampsShowLaterChanges(here);
rmSync(here, { recursive: true, force: true });
(fine ? test : test.skip)('on this machine\'s temporary directory, a change right after a look always shows', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-grain-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const stamp = (p: string) => { const s = statSync(p, { bigint: true }); return `${s.size}:${s.mtimeNs}:${s.ctimeNs}:${s.ino}`; };
  const f = join(dir, 'f');
  writeFileSync(f, 'aaaa');
  let unseen = 0;
  for (let i = 0; i < 500; i++) {
    const seen = stamp(f);
    writeFileSync(f, i % 2 ? 'aaaa' : 'bbbb'); // same size
    if (stamp(f) === seen) unseen++;
    const seenDir = stamp(dir);
    writeFileSync(join(dir, 't'), 'x');
    renameSync(join(dir, 't'), join(dir, 'g'));
    if (stamp(dir) === seenDir) unseen++;
  }
  t.is(unseen, 0);
});
