// Builds a busybox root filesystem from Debian's busybox-static, for tests that
// need a container root without any image download.
import { mkdirSync, copyFileSync, symlinkSync, existsSync, chmodSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

export const BUSYBOX = '/bin/busybox';

/** Fills `dir` with busybox and its applet links, /etc/passwd and /etc/group. Returns dir. */
export function makeBusyboxRootfs(dir: string): string {
  if (!existsSync(BUSYBOX)) throw new Error('busybox-static is not installed (apt-get install busybox-static)');
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'var', 'run']) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, 'tmp'), 0o1777);
  copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  const applets = execFileSync(BUSYBOX, ['--list']).toString().split('\n').filter((a) => a && a !== 'busybox');
  for (const a of applets) {
    const p = join(dir, 'bin', a);
    if (!existsSync(p)) symlinkSync('busybox', p);
  }
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000:app:/home/app:/bin/sh\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\napp:x:1000:\n');
  return dir;
}

/** A fresh temporary directory; remove it with `rmTemp`. */
export function makeTemp(prefix = 'tsstack-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function rmTemp(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
