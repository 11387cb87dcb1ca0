// tsstack as an ordinary user the test makes (with subordinate ids): the CLI enters
// its rootless namespace, images are unpacked with their owners shifted, a service
// with `network_mode: none` runs, writes to a bind mount as the user, and `down`
// leaves no process, no namespace, no container state behind. A layer owned by ids
// outside the mapping is refused (exit 5), nothing of it kept.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxTar, chownTree, tsstack as cli } from './_cli.js';
import { makeUser, rootlessTest, type TestUser } from './_user.js';

/** The user's tsstack, in `cwd`. */
function tsstack(u: TestUser, cwd: string, ...args: string[]) {
  return cli(u, cwd, args);
}

const STACK = `services:
  hello:
    image: bb:1
    network_mode: none
    command: ["sh", "-c", "echo hello from uid $(id -u); ls -n /bin/busybox | cut -c1-30; echo written > /data/out"]
    volumes: ["./data:/data"]
  sleeper:
    image: bb:1
    network_mode: none
    command: ["sleep", "300"]
    mem_limit: 64m
`;

rootlessTest.serial('an ordinary user: run --rm prints, bind-mount files are theirs, a build shifts owners, up -d then down leaves nothing', (t) => {
  const u = makeUser();
  try {
    const proj = join(u.home, 'proj');
    mkdirSync(join(proj, 'data'), { recursive: true });
    writeFileSync(join(proj, 'compose.yaml'), STACK);
    chownTree(u.home, u);
    const tar = busyboxTar(u, 'bb');

    const imp = tsstack(u, proj, 'image', 'import', tar, 'bb:1');
    t.is(imp.status, 0, imp.stderr);
    t.regex(imp.stderr, /warning: XDG_RUNTIME_DIR is not set/);
    // the layer's files (root's in the tar) belong to the user on the host: namespace 0 is the user
    const layers = join(u.home, '.local/share/tsstack/layers');
    const layer = readdirSync(layers).find((d) => /^[0-9a-f]{64}$/.test(d))!;
    t.is(statSync(join(layers, layer, 'diff/bin/busybox')).uid, u.uid);

    const run = tsstack(u, proj, 'run', '--rm', 'hello');
    t.is(run.status, 0, run.stderr);
    t.regex(run.stdout, /^hello from uid 0$/m);
    t.regex(run.stdout, /^-rwxr-xr-x\s+1 0\s+0\s/m, 'the image root sees its files as root');
    const out = statSync(join(proj, 'data/out'));
    t.deepEqual([out.uid, out.gid], [u.uid, u.gid], "what the container's root wrote belongs to the user");
    t.deepEqual(u.pids(), [], `run --rm left: ${u.describe()}`);

    // a build: RUN runs in the namespace too, and what it chowns lands on the subordinate ids
    mkdirSync(join(u.home, 'ctx'));
    writeFileSync(join(u.home, 'ctx/Dockerfile'), 'FROM bb:1\nRUN echo built > /built && chown 33:33 /built\n');
    chownTree(join(u.home, 'ctx'), u);
    const build = tsstack(u, join(u.home, 'ctx'), 'image', 'build', '-t', 'built:1', '.');
    t.is(build.status, 0, build.stderr);
    const built = readdirSync(layers).map((d) => join(layers, d, 'diff/built')).find((f) => existsSync(f))!;
    t.deepEqual([statSync(built).uid, statSync(built).gid], [u.subStart + 32, u.subStart + 32], 'container id 33 is the 33rd subordinate id');

    const up = tsstack(u, proj, 'up', '-d', 'sleeper');
    t.is(up.status, 0, up.stderr);
    t.is(up.stderr.match(/resource limits are not applied in rootless mode \(asked for: memory\)/g)?.length, 1, up.stderr);
    const ps = tsstack(u, proj, 'ps');
    t.regex(ps.stdout, /proj-sleeper-1 .* running/);
    t.true(u.pids().length > 0, 'the container, its monitor and the holder run after the CLI is gone');

    const down = tsstack(u, proj, 'down');
    t.is(down.status, 0, down.stderr);
    t.deepEqual(u.pids(), [], `down left: ${u.describe()}`);
    const run_ = `/tmp/tsstack-run-${u.uid}`;
    t.false(existsSync(join(run_, 'pause.pid')), 'no namespace holder');
    t.deepEqual(readdirSync(join(u.home, '.local/share/tsstack/containers')), []);
    const files = execFileSync('find', [run_, '-type', 'f', '-o', '-type', 's', '-o', '-type', 'l'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
    t.deepEqual(files.filter((f) => !f.endsWith('.lock')), [], 'only lock files stay in the run root');
  } finally {
    u.remove();
  }
});

rootlessTest.serial('a layer owned by ids outside the mapping is refused (exit 5), nothing of it kept', (t) => {
  const u = makeUser();
  try {
    const tar = busyboxTar(u, 'far', u.subCount + 10); // past the 65536 subordinate ids (and the user's own 0)
    const r = tsstack(u, u.home, 'image', 'import', tar, 'far:1');
    t.is(r.status, 5, r.stderr);
    t.regex(r.stderr, /belongs to 65546:65546, outside the ids this rootless user namespace maps \(uids 0–65536; gids 0–65536\)/);
    t.regex(r.stderr, /usermod --add-subuids/);
    const layers = join(u.home, '.local/share/tsstack/layers');
    t.deepEqual(readdirSync(layers).filter((d) => /^[0-9a-f]{64}$/.test(d)), [], 'no layer');
    t.deepEqual(readdirSync(join(layers, 'tmp')), [], 'no half-unpacked layer');
    const ls = tsstack(u, u.home, 'image', 'ls');
    t.notRegex(ls.stdout, /far/);
    t.deepEqual(u.pids(), [], u.describe());
  } finally {
    u.remove();
  }
});
