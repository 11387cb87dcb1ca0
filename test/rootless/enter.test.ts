// Entering rootless mode as an ordinary user the test makes (enter.ts): one holder
// namespace mapped with the user's subordinate ids, state under the XDG paths, and
// nothing left once the last process has left.
import { existsSync, mkdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeUser, rootlessTest } from './_user.js';

const ENTER = fileURLToPath(new URL('./_enter-cli.js', import.meta.url));

rootlessTest.serial('the namespace maps 0 to the user and 1… to the subordinate ids; it goes with the last process', (t) => {
  const u = makeUser();
  try {
    const r = u.run([process.execPath, ENTER, 'sh', '-c', 'cat /proc/self/uid_map /proc/self/gid_map; id -u']);
    t.is(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
    t.deepEqual(lines, [`0 ${u.uid} 1`, `1 ${u.subStart} ${u.subCount}`, `0 ${u.gid} 1`, `1 ${u.subStart} ${u.subCount}`, '0']);
    const root = join(u.home, '.local/share/tsstack');
    const run = `/tmp/tsstack-run-${u.uid}`;
    for (const d of [root, run]) {
      const st = statSync(d);
      t.is(st.uid, u.uid, d);
      t.is(st.mode & 0o777, 0o700, d);
    }
    t.regex(r.stderr, /XDG_RUNTIME_DIR is not set/);
    t.false(existsSync(join(run, 'pause.pid')), 'the holder is gone with the last process');
    t.deepEqual(u.pids(), [], u.describe());
  } finally {
    u.remove();
  }
});

rootlessTest.serial('without subordinate ids: the user alone, with one clear warning', (t) => {
  const u = makeUser({ subIds: false });
  try {
    const r = u.run([process.execPath, ENTER, 'cat', '/proc/self/uid_map', '/proc/self/setgroups'], { XDG_RUNTIME_DIR: u.home });
    t.is(r.status, 0, r.stderr);
    t.deepEqual(r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' ')), [`0 ${u.uid} 1`, 'deny']);
    t.is(r.stderr.match(/no subordinate ids/g)?.length, 1, r.stderr);
    t.regex(r.stderr, /usermod --add-subuids/);
    t.deepEqual(u.pids(), [], u.describe());
  } finally {
    u.remove();
  }
});

rootlessTest.serial('a pause.pid naming another namespace of the user is not entered: a holder of its own is made; no namespace fd reaches the command', async (t) => {
  const u = makeUser();
  // the user's own process in a user namespace of its own, with the recorded start time: only the namespace differs
  const impostor = spawn('setpriv', ['--reuid', String(u.uid), '--regid', String(u.gid), '--clear-groups', '--', 'unshare', '--user', '--map-root-user', 'sleep', '300'], { stdio: 'ignore' });
  try {
    const pid = impostor.pid!;
    const self = readlinkSync('/proc/self/ns/user');
    for (let i = 0; i < 400 && readlinkSync(`/proc/${pid}/ns/user`) === self; i++) await new Promise((r) => setTimeout(r, 5));
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const run = `/tmp/tsstack-run-${u.uid}`;
    mkdirSync(run, { mode: 0o700 });
    writeFileSync(join(run, 'pause.pid'), `${pid} ${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]} user:[1]\n`);
    execFileSync('chown', ['-R', `${u.uid}:${u.gid}`, run]);
    const r = u.run([process.execPath, ENTER, 'sh', '-c', 'cat /proc/self/uid_map; for f in /proc/$$/fd/*; do readlink $f; done']);
    t.is(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
    t.deepEqual(lines.slice(0, 2), [`0 ${u.uid} 1`, `1 ${u.subStart} ${u.subCount}`], 'the real holder\'s mapping, not the impostor\'s 0 → user only');
    t.deepEqual(lines.slice(2).filter((l) => /^(user|mnt|net):\[/.test(l)), [], 'no namespace is left open to the command');
  } finally {
    impostor.kill('SIGKILL');
    await new Promise((r) => impostor.once('exit', r));
    u.remove();
  }
});
