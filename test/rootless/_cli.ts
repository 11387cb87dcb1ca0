// The user's tsstack for the rootless end-to-end tests: the CLI run as a test user
// (_user.ts), a busybox image tar in their home, and files chowned to them.
import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';
import type { TestUser } from './_user.js';

export const CLI = fileURLToPath(new URL('../../../bin/tsstack.js', import.meta.url));

export function chownTree(dir: string, u: TestUser): void {
  execFileSync('chown', ['-R', `${u.uid}:${u.gid}`, dir]);
}

/** The user's tsstack, in `cwd`; `wrap` runs before the change of user (as root). */
export function tsstack(u: TestUser, cwd: string, args: string[], o: { wrap?: string[]; env?: Record<string, string> } = {}) {
  return u.run([process.execPath, CLI, ...args], o.env ?? {}, { cwd, wrap: o.wrap });
}

/** A busybox rootfs tar in the user's home; `owner` gives every entry that owner instead of root. */
export function busyboxTar(u: TestUser, name: string, owner?: number): string {
  const dir = join(u.home, `${name}-rootfs`);
  mkdirSync(dir);
  makeBusyboxRootfs(dir);
  const tar = join(u.home, `${name}.tar`);
  execFileSync('tar', ['-C', dir, ...(owner === undefined ? [] : [`--owner=${owner}`, `--group=${owner}`]), '-cf', tar, '.']);
  chownSync(tar, u.uid, u.gid);
  return tar;
}
