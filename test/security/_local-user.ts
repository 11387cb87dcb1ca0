// A local unprivileged user for attack tests: made with useradd, removed with userdel
// (also when the test fails), and a way to run node code as that user.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';

export const canMakeUsers = process.getuid?.() === 0 && existsSync('/usr/sbin/useradd') && existsSync('/usr/sbin/userdel') && existsSync('/usr/bin/setpriv');

export interface LocalUser {
  name: string;
  uid: number;
  gid: number;
  /** Runs `code` (an ES module body; `report(x)` prints x as the result) with node as this user; returns what it reported. */
  node<T = unknown>(code: string): T;
  remove(): void;
}

/** No home, no login shell; its own group. `remove()` is idempotent. */
export function makeLocalUser(): LocalUser {
  const name = `tssec${randomBytes(3).toString('hex')}`;
  execFileSync('/usr/sbin/useradd', ['--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', '--user-group', name]);
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`))!;
  const [, , uid, gid] = line.split(':');
  let removed = false;
  return {
    name,
    uid: Number(uid),
    gid: Number(gid),
    node<T>(code: string): T {
      const prog = `const report = (x) => process.stdout.write(JSON.stringify(x));\n${code}`;
      const r = spawnSync('/usr/bin/setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', process.execPath, '--input-type=module', '-e', prog], { cwd: '/', encoding: 'utf8', timeout: 20_000 });
      if (r.status !== 0) throw new Error(`node as ${name} failed (${r.status}): ${r.stderr}`);
      return JSON.parse(r.stdout) as T;
    },
    remove() {
      if (removed) return;
      removed = true;
      execFileSync('/usr/sbin/userdel', [name]);
    },
  };
}

/** True when no trace of the user is left in the account files. */
export function userGone(name: string): boolean {
  return ['/etc/passwd', '/etc/group', '/etc/shadow', '/etc/subuid', '/etc/subgid'].every((f) => !existsSync(f) || !readFileSync(f, 'utf8').split('\n').some((l) => l.startsWith(`${name}:`)));
}
