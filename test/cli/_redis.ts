// A Redis root filesystem from the host's Debian redis-server package: busybox
// plus redis-server/redis-cli and the shared libraries they load (from ldd).
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';

export const haveRedis = existsSync('/usr/bin/redis-server') && existsSync('/usr/bin/redis-cli');

export function makeRedisRootfs(dir: string): string {
  makeBusyboxRootfs(dir);
  const files = new Set<string>(['/usr/bin/redis-server', '/usr/bin/redis-cli']);
  for (const bin of ['/usr/bin/redis-server', '/usr/bin/redis-cli']) {
    for (const line of execFileSync('ldd', [bin]).toString().split('\n')) {
      const m = /(\/\S+) \(0x/.exec(line) ?? /=> (\/\S+)/.exec(line);
      if (m) files.add(m[1]);
    }
  }
  for (const f of files) {
    const dest = join(dir, f);
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(f, dest); // follows symlinks: the real file under the link's name
  }
  mkdirSync(join(dir, 'data'), { recursive: true });
  return dir;
}
