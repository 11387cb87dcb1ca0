// An ordinary Unix user made for one test, with subordinate ids, and everything it
// leaves removed afterwards: its processes (by pid, the ones this test started
// under its uid), its account, its subordinate id lines, its home and run dirs.
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { skipWhen } from '../helpers/skip.js';

const have = (p: string) => existsSync(p);
export const rootlessTest = skipWhen(
  process.getuid?.() !== 0 ? 'root' : !have('/usr/bin/newuidmap') || !have('/usr/sbin/useradd') ? 'uidmap' : undefined,
  process.getuid?.() !== 0 ? 'needs root (to create a test user)' : 'needs uidmap (newuidmap) and useradd',
);

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  subStart: number;
  subCount: number;
  /** Runs argv as the user (no supplementary groups), with a small clean environment plus `env`. */
  run(argv: string[], env?: Record<string, string>, opts?: { cwd?: string; input?: string; wrap?: string[] }): SpawnSyncReturns<string>;
  /** Pids of the user's processes. */
  pids(): number[];
  /** The user's processes, named with their state and parent (for failure messages). */
  describe(): string;
  remove(): void;
}

const SUB_FILES = ['/etc/subuid', '/etc/subgid'];

export function makeUser(opts: { subIds?: boolean } = {}): TestUser {
  const existed = SUB_FILES.map((f) => existsSync(f));
  const name = `tsrl${process.pid.toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`.slice(0, 16);
  const home = mkdtempSync(join(tmpdir(), 'tsstack-rootless-home-'));
  execFileSync('useradd', ['-M', '-d', home, '-s', '/bin/sh', '-K', 'SUB_UID_COUNT=0', '-K', 'SUB_GID_COUNT=0', name], { stdio: 'pipe' });
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  execFileSync('chown', [`${uid}:${gid}`, home]);
  // a range per test user, away from the usual 100000+ ones: by uid, which no other account has while this one exists
  // (by worker pid, two workers whose pids end alike gave two users the same subordinate ids)
  const subStart = 1_000_000 + (uid % 1000) * 65536;
  const subCount = 65536;
  if (opts.subIds !== false) {
    const range = `${subStart}-${subStart + subCount - 1}`;
    execFileSync('usermod', ['--add-subuids', range, '--add-subgids', range, name], { stdio: 'pipe' });
  }
  // Zombies are left out: they hold nothing, and reaping an orphan is its new parent's job (in the
  // suite's pid namespace that is the wrapper's init, which may take its time).
  const pids = (): number[] =>
    readdirSync('/proc')
      .filter((e) => /^\d+$/.test(e))
      .filter((e) => {
        try {
          // the user's own, and its containers' (they run as its subordinate ids): both are this test's
          const owner = statSync(`/proc/${e}`).uid;
          if (owner !== uid && !(opts.subIds !== false && owner >= subStart && owner < subStart + subCount)) return false;
          const st = readFileSync(`/proc/${e}/stat`, 'utf8');
          return !/^[ZX]/.test(st.slice(st.lastIndexOf(')') + 2));
        } catch {
          return false;
        }
      })
      .map(Number);
  return {
    name, uid, gid, home, subStart, subCount, pids,
    describe: () => pids().map((p) => {
      try {
        const st = readFileSync(`/proc/${p}/stat`, 'utf8');
        return `${p} ${st.slice(st.indexOf('('), st.lastIndexOf(')') + 1)} ${st.slice(st.lastIndexOf(')') + 2).split(' ').slice(0, 2).join(' ppid ')}`;
      } catch {
        return String(p);
      }
    }).join('; '),
    run(argv, env = {}, o = {}) {
      const base = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: home, USER: name, LOGNAME: name };
      // `wrap` (run as root, e.g. nsenter into the test's own namespaces) goes before the change of user
      const [cmd, ...pre] = [...(o.wrap ?? []), 'setpriv'];
      return spawnSync(cmd, [...pre, '--reuid', String(uid), '--regid', String(gid), '--clear-groups', '--', 'env', '-i', ...Object.entries({ ...base, ...env }).map(([k, v]) => `${k}=${v}`), ...argv], {
        encoding: 'utf8', cwd: o.cwd ?? home, input: o.input, timeout: 120_000,
      });
    },
    remove() {
      for (const pid of pids()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch { /* gone */ }
      }
      // the uid's directories first: once the account is gone, another test's new user may get the same uid
      rmSync(home, { recursive: true, force: true });
      rmSync(join('/tmp', `tsstack-run-${uid}`), { recursive: true, force: true });
      spawnSync('userdel', ['-f', name], { stdio: 'pipe' });
      // userdel takes the user's lines out under shadow's lock. The files are rewritten here only when
      // it left ours: a rewrite unlocked, while another test's usermod added its user's ids, lost them
      // (that user's containers then had no gid 5 for /dev/pts: EINVAL)
      for (const [i, f] of SUB_FILES.entries()) {
        if (!existsSync(f)) continue;
        const all = readFileSync(f, 'utf8').split('\n');
        const lines = all.filter((l) => !l.startsWith(`${name}:`) && !l.startsWith(`${uid}:`));
        const text = lines.join('\n');
        if (!existed[i] && !text.trim()) rmSync(f, { force: true });
        else if (lines.length !== all.length) writeFileSync(f, text);
        rmSync(`${f}-`, { force: true });
      }
    },
  };
}
