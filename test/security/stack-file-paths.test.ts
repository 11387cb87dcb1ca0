// Hostile stack files against the host: container paths that are not absolute or climb with
// `..`, and relative paths that a link in the project leads out of it (a cloned repository
// with `secret -> /etc/shadow`). Each is refused by `up` with the file, line and key, exit 2,
// and nothing is created (no engine root). What Compose allows stays allowed: `../x` written
// out, an absolute path, a link that stays in the project.
// Then a real `up` with a secret and a config: the modes of what the engine made on the host.
import test from 'ava';
import { isolateNetwork } from '../cli/_netns.js';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canRun, E2E, leftovers, world, type World } from '../cli/_world.js';
import { needs } from '../helpers/skip.js';

isolateNetwork();

const mode = (p: string) => statSync(p).mode & 0o7777;

/** `up -d` of `yaml` in a fresh world (with `files` beside it): its outcome, and whether an engine root appeared. */
async function upOf(yaml: string, setup?: (w: World) => void) {
  const w = world();
  try {
    const file = join(w.dir, 'stack.yaml');
    writeFileSync(file, yaml);
    setup?.(w);
    const r = await w.runEnv({ TSSTACK_PROJECT_NAME: undefined }, '-f', file, '-p', 'hostile', 'up', '-d');
    return { ...r, file, rootMade: existsSync(w.root) };
  } finally {
    w.dispose();
  }
}

const svc = (extra: string) => `services:\n  web:\n    image: busybox:latest\n${extra}`;

const refusals: [string, string, (w: World) => void, number, RegExp][] = [
  ['a relative volume target', svc('    volumes:\n      - ./d:data\n'), () => {}, 5, /services\.web\.volumes\[0\]\): volume target "data" must be an absolute path in the container/],
  ['a volume target that climbs with ..', svc('    volumes:\n      - type: volume\n        target: /data/../etc\n'), () => {}, 5, /volumes\[0\]\): volume target "\/data\/\.\.\/etc" must not contain "\.\."/],
  ['a volume subpath that climbs out of the volume', svc('    volumes:\n      - type: volume\n        source: v\n        target: /v\n        volume:\n          subpath: ../../..\nvolumes:\n  v: {}\n'), () => {}, 9, /volumes\[0\]\.volume\.subpath\): volume subpath "\.\.\/\.\.\/\.\." must be a relative path inside the volume/],
  ['a relative tmpfs target', svc('    tmpfs:\n      - run:size=1m\n'), () => {}, 5, /services\.web\.tmpfs\[0\]\): tmpfs target "run" must be an absolute path/],
  ['a relative working_dir', svc('    working_dir: app\n'), () => {}, 4, /services\.web\.working_dir\): working_dir "app" must be an absolute path/],
  ['a secret target that climbs out of /run/secrets', svc('    secrets:\n      - source: s\n        target: ../../etc/passwd\nsecrets:\n  s:\n    file: ./s.txt\n'), (w) => writeFileSync(join(w.dir, 's.txt'), 'x'), 6, /services\.web\.secrets\[0\]\.target\): secret target "\.\.\/\.\.\/etc\/passwd" must not contain "\.\."/],
  ['a secret named .. without a target (it would land on /run)', svc('    secrets: ["..", a]\nsecrets:\n  "..":\n    content: x\n  a:\n    content: y\n'), () => {}, 4, /services\.web\.secrets\[0\]\): secret "\.\." needs a target/],
  ['a secret copy with a named uid', svc('    secrets:\n      - source: s\n        uid: app\nsecrets:\n  s:\n    file: ./s.txt\n'), (w) => writeFileSync(join(w.dir, 's.txt'), 'x'), 6, /services\.web\.secrets\[0\]\.uid\): secret uid "app" must be a number/],
  ['a set-uid secret copy', svc('    secrets:\n      - source: s\n        mode: 04755\nsecrets:\n  s:\n    file: ./s.txt\n'), (w) => writeFileSync(join(w.dir, 's.txt'), 'x'), 6, /services\.web\.secrets\[0\]\.mode\): secret mode 04755 is not a permission mode/],
  ['a secret whose relative file is a link out of the project', svc('    secrets: [s]\nsecrets:\n  s:\n    file: ./s.txt\n'), (w) => symlinkSync('/etc/passwd', join(w.dir, 's.txt')), 7, /secrets\.s\.file\): "\.\/s\.txt" leads through a symbolic link to \/etc\/passwd, outside /],
  ['a config under a linked directory that leads out', svc('    configs: [c]\nconfigs:\n  c:\n    file: conf/app.conf\n'), (w) => symlinkSync('/etc', join(w.dir, 'conf')), 7, /configs\.c\.file\): "conf\/app\.conf" leads through a symbolic link to \/etc\/app\.conf, outside/],
  ['an env_file that is a link out of the project', svc('    env_file: ./web.env\n'), (w) => symlinkSync('/etc/passwd', join(w.dir, 'web.env')), 4, /services\.web\.env_file\): "\.\/web\.env" leads through a symbolic link to \/etc\/passwd/],
  ['a label_file that is a link out of the project', svc('    label_file: [./l]\n'), (w) => symlinkSync('/etc/hostname', join(w.dir, 'l')), 4, /services\.web\.label_file\[0\]\): "\.\/l" leads through a symbolic link/],
  ['an extends file that is a link out of the project', svc('    extends:\n      file: ./base.yaml\n      service: x\n'), (w) => { mkdirSync(join(w.base, 'elsewhere')); writeFileSync(join(w.base, 'elsewhere', 'b.yaml'), 'services:\n  x:\n    image: busybox\n'); symlinkSync(join(w.base, 'elsewhere', 'b.yaml'), join(w.dir, 'base.yaml')); }, 5, /services\.web\.extends\.file\): "\.\/base\.yaml" leads through a symbolic link/],
  ['an include that is a link out of the project', 'include:\n  - ./inc.yaml\n' + svc(''), (w) => { mkdirSync(join(w.base, 'elsewhere')); writeFileSync(join(w.base, 'elsewhere', 'i.yaml'), 'services: {}\n'); symlinkSync(join(w.base, 'elsewhere', 'i.yaml'), join(w.dir, 'inc.yaml')); }, 2, /include\[0\]\): "\.\/inc\.yaml" leads through a symbolic link/],
  ['a project .env that is a link out of the project', svc(''), (w) => symlinkSync('/etc/passwd', join(w.dir, '.env')), 0, /\.env: "\.env" leads through a symbolic link to \/etc\/passwd/],
  ['a build context that is a link to /', 'services:\n  web:\n    build: ./ctx\n', (w) => symlinkSync('/', join(w.dir, 'ctx')), 3, /services\.web\.build\): "\.\/ctx" leads through a symbolic link to \/, outside/],
];

for (const [what, yaml, setup, line, msg] of refusals) {
  test(`refused with file, line and key, exit 2, nothing made: ${what}`, async (t) => {
    const r = await upOf(yaml, setup);
    t.is(r.code, 2, r.err);
    if (line) t.true(r.err.includes(`${r.file}:${line}`), `located at line ${line}: ${r.err}`);
    t.regex(r.err, msg);
    t.false(r.rootMade, 'no engine root was made');
  });
}

test('allowed as Compose allows: ../x written out, an absolute path, a link that stays in the project', async (t) => {
  const w = world();
  t.teardown(() => w.dispose());
  mkdirSync(join(w.base, 'shared'));
  writeFileSync(join(w.base, 'shared', 'x.txt'), 'x');
  writeFileSync(join(w.dir, 'real.txt'), 'y');
  symlinkSync('real.txt', join(w.dir, 'inside.txt'));
  mkdirSync(join(w.dir, 'sub'));
  symlinkSync('../real.txt', join(w.dir, 'sub', 'up.txt'));
  const file = join(w.dir, 'stack.yaml');
  writeFileSync(file, `services:\n  web:\n    image: busybox\n    working_dir: /srv\n    tmpfs: [/run]\n    volumes: ["/etc/hostname:/h:ro", "../shared:/shared"]\n    secrets: [a, b, c, d]\nsecrets:\n  a: { file: ../shared/x.txt }\n  b: { file: ./inside.txt }\n  c: { file: sub/up.txt }\n  d: { file: ${join(w.base, 'shared', 'x.txt')} }\n`);
  const r = await w.run('-f', file, 'config', '-q');
  t.is(r.code, 0, r.err);
});

const realTest = needs(...E2E).serial;

realTest('a real up: root, run root, container, secrets and volumes get the modes chosen for them', async (t) => {
  const w = world();
  chmodSync(w.base, 0o755); // a 0755 parent, as on a real host: the engine's own modes must protect
  const run = join(w.base, 'run');
  const file = join(w.dir, 'stack.yaml');
  writeFileSync(join(w.dir, 'key.txt'), 'file-secret\n');
  chmodSync(join(w.dir, 'key.txt'), 0o644);
  writeFileSync(file, `
services:
  web:
    image: busybox:latest
    network_mode: none
    command: ["sh", "-c", "ls -ln /run/secrets/key /run/secrets/env /cfg; exec sleep 1000"]
    volumes: [data:/data]
    secrets: [key, env]
    configs: [{ source: cfg, target: /cfg }]
secrets:
  key: { file: ./key.txt }
  env: { environment: SECRET_ENV }
configs:
  cfg: { content: "x" }
volumes:
  data: {}
`);
  const T = (...argv: string[]) => w.runEnv({ TSSTACK_PROJECT_NAME: undefined, TSSTACK_RUN_ROOT: run, SECRET_ENV: 'from-env' }, '-f', file, '-p', 'modes', ...argv);
  try {
    const ps = await T('ps');
    t.is(ps.code, 0, ps.err);
    t.is(mode(w.root), 0o700, 'a fresh root is 0700');
    t.is(mode(run), 0o700, 'a fresh run root is 0700');
    await w.busybox('busybox:latest');
    const up = await T('up', '-d');
    t.is(up.code, 0, up.err);
    const id = readdirSync(join(w.root, 'containers'))[0]!;
    const cdir = join(w.root, 'containers', id);
    t.is(mode(cdir), 0o700);
    t.is(mode(join(cdir, 'files')), 0o700);
    t.deepEqual(readdirSync(join(cdir, 'files')).map((f) => [f, mode(join(cdir, 'files', f)), statSync(join(cdir, 'files', f)).uid]), [['1', 0o400, 0], ['2', 0o400, 0], ['3', 0o444, 0]], 'copies (named by mount index; 0 is the volume): secrets 0400, the config 0444, the container user\'s (root)');
    t.is(mode(join(w.dir, 'key.txt')), 0o644, 'the user\'s own file is left as it is');
    const staged = join(w.root, 'projects', 'modes');
    t.is(mode(join(staged, 'secrets')), 0o700);
    t.is(mode(join(staged, 'configs')), 0o700);
    for (const k of ['secrets', 'configs']) for (const f of readdirSync(join(staged, k))) t.is(mode(join(staged, k, f)), 0o600);
    for (const f of ['container.json', 'state.json', 'log.json']) t.is(mode(join(cdir, f)), 0o600, f);
    t.is(mode(join(cdir, 'bundle', 'config.json')), 0o600, 'the bundle holds the environment');
    const mon = join(run, 'monitor', id.slice(0, 12));
    t.is(mode(mon), 0o700);
    t.is(mode(join(mon, 'ctl.sock')) & 0o777, 0o600);
    t.is(mode(join(w.root, 'volumes')), 0o700);
    t.is(mode(join(w.root, 'volumes', 'modes_data')), 0o700);
    t.is(mode(join(w.root, 'volumes', 'modes_data', '_data')), 0o755);
    t.is(mode(join(w.root, 'volumes', 'modes_data', 'meta.json')), 0o600);
    let logs = '';
    for (let i = 0; i < 100 && !/cfg/.test(logs); i++) logs = (await T('logs')).out, await new Promise((r) => setTimeout(r, 50));
    t.regex(logs, /-r--------\s+1 0\s+0\s.*\/run\/secrets\/key/);
    t.regex(logs, /-r--r--r--\s+1 0\s+0\s.*\/cfg/);

    // a changed secret file is seen at the next start (each start makes the copy again)
    writeFileSync(join(w.dir, 'key.txt'), 'changed\n');
    t.is((await T('restart', '-t', '1')).code, 0);
    t.is(readFileSync(join(cdir, 'files', '1'), 'utf8'), 'changed\n');
  } finally {
    const d = await T('down', '-v', '-t', '1');
    t.is(d.code, 0, d.err);
    t.deepEqual([...leftovers(w.root), ...leftovers(run)], [], 'nothing left behind');
    w.dispose();
  }
});
