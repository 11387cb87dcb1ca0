// A local unprivileged user (made by the test with useradd, removed after) against the files
// the engine keeps on the host: it tries to read secrets (the staged value and the container's
// copy), run set-uid files a container planted in its root filesystem and in a volume, read
// and write volume data, read the log and state, and use the monitor's control socket. Every
// attempt fails, nothing it tried to write exists. The container itself runs as that same uid
// (the worst case: the secret's owner on the host is that user) and still works: its secret,
// config, volume, bind mount, the image's lower layers, the log and exec.
// Also: a root (or run root) another user could change is refused with exit 8, and a root an
// older tsstack made 0755 is tightened to 0700.
import test from 'ava';
import { isolateNetwork } from '../cli/_netns.js';
import { chmodSync, existsSync, lchownSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, chownSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { leftovers, canRun, E2E, world, type World } from '../cli/_world.js';
import { canMakeUsers, makeLocalUser, userGone, type LocalUser } from './_local-user.js';
import { missing, skipWhen } from '../helpers/skip.js';

isolateNetwork();

const maybe = skipWhen(!(canRun && canMakeUsers), missing(...E2E) ?? 'needs useradd, userdel and setpriv').serial;
const mode = (p: string) => statSync(p).mode & 0o7777;

/** Runs as `u`: each attempt's outcome, 'ok' or the error code. */
function attack(u: LocalUser, attempts: Record<string, { op: 'read' | 'readdir' | 'exec' | 'write' | 'connect'; path: string }>): Record<string, string> {
  return u.node(`
    import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
    import { spawnSync } from 'node:child_process';
    import { connect } from 'node:net';
    const attempts = ${JSON.stringify(attempts)};
    const out = {};
    for (const [k, a] of Object.entries(attempts)) {
      try {
        if (a.op === 'read') readFileSync(a.path);
        else if (a.op === 'readdir') readdirSync(a.path);
        else if (a.op === 'write') writeFileSync(a.path, 'from the local user');
        else if (a.op === 'exec') {
          const r = spawnSync(a.path, ['-c', 'id -u']);
          if (r.error) throw r.error;
          out[k] = 'ran as uid ' + String(r.stdout).trim();
          continue;
        } else await new Promise((res, rej) => { const s = connect(a.path, () => { s.end(); res(); }); s.on('error', rej); });
        out[k] = 'ok';
      } catch (e) { out[k] = e.code ?? String(e); }
    }
    report(out);
  `);
}

const stack = (uid: number, gid: number, shared: string) => `
services:
  planter:
    image: busybox:latest
    network_mode: none
    volumes: [data:/data]
    command: ["sh", "-c", "mkdir -p /suid && cp /bin/busybox /suid/sh && chmod 4755 /suid/sh && cp /bin/busybox /data/sh && chmod 4755 /data/sh && echo volume-data > /data/file && chmod 600 /data/file && touch /data/ready && exec sleep 1000"]
  app:
    image: busybox:latest
    user: "${uid}:${gid}"
    network_mode: none
    depends_on: [planter]
    volumes: ["data:/data:ro", "${shared}:/shared"]
    secrets:
      - token
      - { source: filetok, uid: "4321", gid: "4321", mode: 0440 }
    configs: [{ source: conf, target: /etc/app.conf }]
    command: ["sh", "-c", "cat /run/secrets/token; echo; cat /etc/app.conf; echo; ls -ln /run/secrets/token /run/secrets/filetok /etc/app.conf; id -u > /shared/out; exec sleep 1000"]
secrets:
  token: { environment: TOKEN }
  filetok: { file: ./filetok.txt }
configs:
  conf: { content: conf-content }
volumes:
  data: {}
`;

function containerIds(root: string): Record<string, string> {
  const dir = join(root, 'containers');
  return Object.fromEntries(readdirSync(dir).map((id) => [JSON.parse(readFileSync(join(dir, id, 'container.json'), 'utf8')).name as string, id]));
}

maybe('a local user reaches no secret, set-uid file, volume data, log or socket of the engine; the container runs as that uid and works', async (t) => {
  const w = world();
  chmodSync(w.base, 0o755); // as /var/lib on a real host: the engine's own dirs must do the protecting
  const run = join(w.base, 'run');
  const u = makeLocalUser();
  t.teardown(() => { u.remove(); });
  const shared = join(w.dir, 'shared');
  mkdirSync(shared);
  chmodSync(shared, 0o777);
  chmodSync(w.dir, 0o755);
  writeFileSync(join(w.dir, 'filetok.txt'), 'file-secret\n', { mode: 0o600 });
  const file = join(w.dir, 'stack.yaml');
  writeFileSync(file, stack(u.uid, u.gid, shared));
  const T = (...argv: string[]) => w.runEnv({ TSSTACK_PROJECT_NAME: undefined, TSSTACK_RUN_ROOT: run, TOKEN: 's3cret-value' }, '-f', file, '-p', 'lu', ...argv);
  try {
    await w.busybox('busybox:latest');
    t.is(mode(w.root), 0o755, 'the image import made the root as an older tsstack did');
    const up = await T('up', '-d');
    t.is(up.code, 0, up.err);
    t.is(mode(w.root), 0o700, 'the root is tightened when opened');
    t.is(mode(run), 0o700, 'the run root is made 0700');
    const ids = containerIds(w.root);
    const planter = ids['lu-planter-1']!, app = ids['lu-app-1']!;
    const rootfs = join(w.root, 'containers', planter, 'rootfs');
    const data = join(w.root, 'volumes', 'lu_data', '_data');
    for (let i = 0; i < 100 && !existsSync(join(data, 'ready')); i++) await new Promise((r) => setTimeout(r, 50));
    t.true(existsSync(join(rootfs, 'suid/sh')) && (mode(join(rootfs, 'suid/sh')) & 0o4000) !== 0, 'the container planted a set-uid file in its root');
    t.true((mode(join(data, 'sh')) & 0o4000) !== 0, 'and in the volume');

    // the container, running as the local user's uid, has what it needs
    let logs = '';
    for (let i = 0; i < 100 && !/app\.conf/.test(logs); i++) logs = (await T('logs', 'app')).out, await new Promise((r) => setTimeout(r, 50));
    t.regex(logs, /s3cret-value/, 'the environment-sourced secret');
    t.regex(logs, /conf-content/, 'the inline config');
    t.regex(logs, new RegExp(`-r--------\\s+1 ${u.uid}\\s+${u.gid}\\s.*/run/secrets/token`), 'a secret: 0400, the container user\'s');
    t.regex(logs, /-r--r-----\s+1 4321\s+4321\s.*\/run\/secrets\/filetok/, 'the long form\'s uid, gid and mode');
    t.regex(logs, new RegExp(`-r--r--r--\\s+1 ${u.uid}\\s+${u.gid}\\s.*/etc/app.conf`), 'a config: 0444');
    t.is(readFileSync(join(shared, 'out'), 'utf8').trim(), String(u.uid), 'the bind mount is written by the container user');
    const ex = await T('exec', '-T', 'app', 'sh', '-c', '{ id -u; cat /data/ready /run/secrets/token >/dev/null && echo read-ok; cat /run/secrets/filetok; } > /shared/exec 2>&1');
    t.not(ex.code, 0, 'the last cat fails');
    const exOut = readFileSync(join(shared, 'exec'), 'utf8');
    t.regex(exOut, new RegExp(`^${u.uid}\\nread-ok`), 'exec runs as the user and reads the volume (lower layers give sh)');
    t.regex(exOut, /Permission denied/, 'a secret given to another uid stays closed to this one');

    // modes on the host
    const cdir = join(w.root, 'containers', app);
    const staged = join(w.root, 'projects', 'lu', 'secrets');
    const monitor = join(run, 'monitor', app.slice(0, 12));
    t.is(mode(cdir), 0o700);
    t.is(mode(join(cdir, 'files')), 0o700);
    for (const f of readdirSync(join(cdir, 'files'))) t.is(statSync(join(cdir, 'files', f)).uid === 0 ? 0 : 1, 1, `files/${f} belongs to the container's user`);
    t.is(mode(join(cdir, 'log.json')), 0o600);
    t.is(mode(join(cdir, 'state.json')), 0o600);
    t.is(mode(join(cdir, 'container.json')), 0o600);
    t.is(mode(staged), 0o700);
    for (const f of readdirSync(staged)) t.is(mode(join(staged, f)), 0o600, `staged ${f}`);
    t.is(mode(monitor), 0o700);
    t.is(mode(join(monitor, 'ctl.sock')) & 0o777, 0o600);
    t.is(mode(join(w.root, 'volumes')), 0o700);
    t.is(mode(join(w.root, 'volumes', 'lu_data')), 0o700);

    // the attacks
    const stagedFiles = Object.fromEntries(readdirSync(staged).map((f) => [`read the staged secret ${f}`, { op: 'read' as const, path: join(staged, f) }]));
    t.true(Object.keys(stagedFiles).length > 0);
    const before = readFileSync(join(data, 'file'), 'utf8');
    const got = attack(u, {
      ...stagedFiles,
      'read the container\'s copy of its own secret': { op: 'read', path: join(cdir, 'files', '0') },
      'list the secrets': { op: 'readdir', path: join(cdir, 'files') },
      'list the root': { op: 'readdir', path: w.root },
      'list the run root': { op: 'readdir', path: run },
      'run the set-uid file in the rootfs': { op: 'exec', path: join(rootfs, 'suid/sh') },
      'run the set-uid file in the volume': { op: 'exec', path: join(data, 'sh') },
      'read volume data': { op: 'read', path: join(data, 'file') },
      'write volume data': { op: 'write', path: join(data, 'file') },
      'plant a file in the volume': { op: 'write', path: join(data, 'planted') },
      'read the log': { op: 'read', path: join(cdir, 'log.json') },
      'read the state': { op: 'read', path: join(cdir, 'state.json') },
      'read the record (environment)': { op: 'read', path: join(cdir, 'container.json') },
      'stop the container through its control socket': { op: 'connect', path: join(monitor, 'ctl.sock') },
      'read the DNS records': { op: 'read', path: join(run, 'dns', 'records') },
    });
    for (const [what, outcome] of Object.entries(got)) t.is(outcome, 'EACCES', what);
    t.is(readFileSync(join(data, 'file'), 'utf8'), before, 'the volume data is untouched');
    t.false(existsSync(join(data, 'planted')));
    t.is((await T('ps', '-q')).out.split('\n').filter(Boolean).length, 2, 'both containers still run');
  } finally {
    const d = await T('down', '-v', '-t', '1');
    t.is(d.code, 0, d.err);
    u.remove();
    t.true(userGone(u.name), 'the local user is removed');
    t.deepEqual([...leftovers(w.root), ...leftovers(run)], [], 'nothing left behind');
    w.dispose();
  }
});

/** tsstack pointed at `root`: the outcome of `ls` (opens the engine). */
async function openAt(w: World, root: string) {
  return w.runEnv({ TSSTACK_ROOT: root, TSSTACK_RUN_ROOT: join(w.base, 'run') }, 'ls');
}

maybe('a root or run root another local user could change is refused with exit 8; nothing is written there', async (t) => {
  const w = world();
  chmodSync(w.base, 0o755);
  const u = makeLocalUser();
  t.teardown(() => { u.remove(); w.dispose(); });
  // owned by the local user (made before tsstack's first run, e.g. under /tmp)
  const theirs = join(w.base, 'theirs');
  mkdirSync(theirs);
  chownSync(theirs, u.uid, u.gid);
  let r = await openAt(w, theirs);
  t.is(r.code, 8, r.err);
  t.regex(r.err, new RegExp(`root ${theirs} is not safe to use: it is owned by uid ${u.uid}`));
  t.deepEqual(readdirSync(theirs), []);
  // `up` neither reads nor writes its caches there (a planted model would be run as root)
  writeFileSync(join(w.dir, 'stack.yaml'), 'services:\n  web:\n    image: busybox:latest\n');
  r = await w.runEnv({ TSSTACK_ROOT: theirs, TSSTACK_RUN_ROOT: join(w.base, 'run') }, '-f', join(w.dir, 'stack.yaml'), 'up', '-d');
  t.is(r.code, 8, r.err);
  t.deepEqual(readdirSync(theirs), [], 'no model cache was written for the other user to edit');
  // writable by everyone
  const open = join(w.base, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  r = await openAt(w, open);
  t.is(r.code, 8);
  t.regex(r.err, /writable by its group and other users \(mode 777\)/);
  t.deepEqual(readdirSync(open), []);
  // a link the local user planted where the root will be, pointing at a root-owned directory
  const target = join(w.base, 'etc-like');
  mkdirSync(target, { mode: 0o700 });
  const link = join(w.base, 'link');
  symlinkSync(target, link);
  lchownSync(link, u.uid, u.gid);
  r = await openAt(w, link);
  t.is(r.code, 8);
  t.regex(r.err, new RegExp(`${link} is a symbolic link owned by uid ${u.uid}`));
  t.deepEqual(readdirSync(target), []);
  // a parent directory the local user owns: they could swap the root for their own tree
  const parent = join(w.base, 'parent');
  mkdirSync(parent);
  chownSync(parent, u.uid, u.gid);
  r = await openAt(w, join(parent, 'root'));
  t.is(r.code, 8);
  t.regex(r.err, new RegExp(`${parent} is owned by uid ${u.uid}`));
  t.false(existsSync(join(parent, 'root')));
  // the run root is held to the same rule
  r = await w.runEnv({ TSSTACK_ROOT: join(w.base, 'good'), TSSTACK_RUN_ROOT: open }, 'ls');
  t.is(r.code, 8);
  t.regex(r.err, /run root .* is not safe to use/);
  // a shared directory named by mistake is not tightened behind its owner's back
  const shared = join(w.base, 'srv');
  mkdirSync(shared, { mode: 0o755 });
  writeFileSync(join(shared, 'www.html'), '');
  r = await openAt(w, shared);
  t.is(r.code, 8);
  t.regex(r.err, /is open to other users \(mode 755\) and holds files tsstack did not make \(www\.html\)/);
  t.is(mode(shared), 0o755);
  // and a good one is made 0700
  r = await openAt(w, join(w.base, 'fresh', 'root'));
  t.is(r.code, 0, r.err);
  t.is(mode(join(w.base, 'fresh', 'root')), 0o700);
  t.is(mode(join(w.base, 'fresh')), 0o755);
  u.remove();
  t.true(userGone(u.name));
});
