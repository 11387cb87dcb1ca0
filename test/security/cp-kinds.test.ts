// What `cp` makes of each kind of file, both ways, as `docker cp` does: links
// copied as links (never followed), hard links kept within the copy, FIFOs made
// anew (never opened: reading one would block), device nodes made only with -a
// on the way out, sockets left out with a word; owners root in the container and
// the caller on the host unless -a; modes kept, set-id bits leaving a container
// only with -a.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { runtimes } from '../engine-runtime/helpers.js';
import { containerKit, plainSpec } from '../engine-runtime/kit.js';
import { needs } from '../helpers/skip.js';

const { engine } = containerKit('tsstack-cp-kinds-');
const rt = runtimes()[0];
const maybe = needs('root', 'runtime').serial;

/** Fails instead of hanging when a copy blocks (on a FIFO opened for reading, say). */
async function within<T>(p: Promise<T>, ms = 20_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`copy still running after ${ms} ms`)), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

const SETUP = [
  'mkdir -p /x/sub', 'echo hello > /x/a', 'ln /x/a /x/sub/b', 'ln -s /etc/passwd /x/abs', 'ln -s ../a /x/sub/rel', 'mkfifo /x/fifo',
  'echo s > /x/suid', 'chown 1000:1000 /x/suid', 'chmod 4750 /x/suid', 'chmod 750 /x/sub', '(mknod /x/null c 1 3 || true)', 'touch /ready', 'exec sleep 1000',
].join('; ');

maybe('cp out: links, hard links, FIFOs, devices, owners and modes; a stopped container too', async (t) => {
  const { c, dir } = engine(t, rt!);
  await c.create(plainSpec('kinds', ['sh', '-c', SETUP]));
  await c.start('kinds');
  for (let i = 0; i < 100 && (await c.execCapture('kinds', ['test', '-e', '/ready'])).code !== 0; i++) await new Promise((r) => setTimeout(r, 50));
  const hasDevice = (await c.execCapture('kinds', ['test', '-c', '/x/null'])).code === 0;
  if (!hasDevice) t.log('the container could not mknod: the device node checks are left out');

  const out = join(dir, 'out');
  const r = await within(c.copy('kinds', 'kinds:/x', out, 'out'));
  t.is(readFileSync(join(out, 'a'), 'utf8'), 'hello\n');
  t.is(statSync(join(out, 'sub', 'b')).ino, statSync(join(out, 'a')).ino, 'a hard link stays one');
  t.is(statSync(join(out, 'a')).nlink, 2);
  t.true(lstatSync(join(out, 'abs')).isSymbolicLink());
  t.is(readlinkSync(join(out, 'abs')), '/etc/passwd', 'a link is copied, not followed');
  t.is(readlinkSync(join(out, 'sub', 'rel')), '../a');
  t.true(lstatSync(join(out, 'fifo')).isFIFO(), 'a FIFO is made anew');
  const suid = statSync(join(out, 'suid'));
  t.deepEqual([suid.mode & 0o7777, suid.uid], [0o750, 0], 'owned by the caller, without set-uid');
  t.is(statSync(join(out, 'sub')).mode & 0o7777, 0o750);
  if (hasDevice) {
    t.false(existsSync(join(out, 'null')), 'no device node on the host without -a');
    t.deepEqual(r.skipped, ['kinds:/x/null: a device node (copied only with -a)']);
  }

  const arch = join(dir, 'archive');
  mkdirSync(arch);
  await within(c.copy('kinds', 'kinds:/x/.', arch, 'out', { archive: true }));
  const s2 = statSync(join(arch, 'suid'));
  t.deepEqual([s2.mode & 0o7777, s2.uid, s2.gid], [0o4750, 1000, 1000], '-a keeps the owner and set-uid');
  if (hasDevice) t.true(lstatSync(join(arch, 'null')).isCharacterDevice(), '-a makes device nodes');

  // a file onto an existing file replaces it; into an existing directory keeps its name
  await c.copy('kinds', 'kinds:/x/a', join(arch, 'suid'), 'out');
  t.is(readFileSync(join(arch, 'suid'), 'utf8'), 'hello\n');
  await t.throwsAsync(c.copy('kinds', 'kinds:/x', join(arch, 'a'), 'out'), { message: /cannot copy directory kinds:\/x onto file/ });
  await t.throwsAsync(c.copy('kinds', 'kinds:/x/a', join(dir, 'nope', 'a'), 'out'), { message: /destination directory .*nope does not exist/ });

  // /proc and /sys of a running container hold no files to copy: empty directories, nothing read from them
  await within(c.copy('kinds', 'kinds:/proc', join(dir, 'proc'), 'out'));
  t.deepEqual(readdirSync(join(dir, 'proc')), []);

  await c.kill('kinds', 'SIGKILL');
  await c.wait('kinds');
  const stopped = join(dir, 'stopped');
  await within(c.copy('kinds', 'kinds:/x', stopped, 'out'));
  t.true(lstatSync(join(stopped, 'fifo')).isFIFO(), 'a stopped container: through its root filesystem');
  t.is(readlinkSync(join(stopped, 'abs')), '/etc/passwd');
  await c.remove('kinds', { force: true });
});

maybe('cp in: links, hard links, FIFOs and sockets; root owns the copies unless -a', async (t) => {
  const { c, dir } = engine(t, rt!);
  await c.create(plainSpec('into', ['sleep', '1000']));
  await c.start('into');
  const src = join(dir, 'in');
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'm'), 'data\n');
  chmodSync(join(src, 'm'), 0o640);
  chownSync(join(src, 'm'), 1234, 1234);
  linkSync(join(src, 'm'), join(src, 'sub', 'm2'));
  symlinkSync('/etc/shadow', join(src, 'abs'));
  execFileSync('mkfifo', [join(src, 'fifo')]);
  chmodSync(join(src, 'sub'), 0o700);
  const server = createServer();
  await new Promise<void>((res) => server.listen(join(src, 'sock'), res));
  t.teardown(() => server.close());

  const r = await within(c.copy('into', src, 'into:/y', 'in'));
  t.deepEqual(r.skipped, [`${join(src, 'sock')}: a socket`]);
  const stat = async (p: string) => (await c.execCapture('into', ['stat', '-c', '%a %u:%g %h %i %F', p])).stdout.trim();
  const m = (await stat('/y/m')).split(' ');
  t.deepEqual(m.slice(0, 3), ['640', '0:0', '2'], 'mode kept, owned by root, still two links');
  t.is((await stat('/y/sub/m2')).split(' ')[3], m[3], 'the hard link points at the same file');
  t.regex(await stat('/y/fifo'), /fifo$/);
  t.regex(await stat('/y/sub'), /^700 0:0 .* directory$/);
  t.is((await c.execCapture('into', ['readlink', '/y/abs'])).stdout, '/etc/shadow\n', 'a link is copied as a link');
  t.is((await c.execCapture('into', ['test', '-e', '/y/sock'])).code, 1);

  await within(c.copy('into', join(src, 'm'), 'into:/y/sub/', 'in', { archive: true }));
  t.is((await stat('/y/sub/m')).split(' ')[1], '1234:1234', '-a keeps the owner');
  // a directory never replaces a file, nor a file a directory
  await t.throwsAsync(c.copy('into', src, 'into:/y/m', 'in'), { message: /onto file/ });
  mkdirSync(join(dir, 'x', 'sub', 'm2'), { recursive: true });
  await t.throwsAsync(c.copy('into', join(dir, 'x', 'sub'), 'into:/y', 'in'), { message: /cannot replace/ });
  t.is((await c.execCapture('into', ['sh', '-c', 'ls -a /y /y/sub | grep -c tsstack-cp'])).stdout.trim(), '0', 'no temporary file left');
  await c.remove('into', { force: true });
});

maybe('cp in to a read-only mount is refused, running or stopped; the host source stays as it was', async (t) => {
  const { c, dir } = engine(t, rt!);
  const ro = join(dir, 'ro');
  mkdirSync(ro);
  writeFileSync(join(dir, 'f'), 'new\n');
  await c.create(plainSpec('ro', ['sleep', '1000'], { mounts: [{ type: 'bind', source: ro, target: '/ro', readOnly: true }] }));
  await c.start('ro');
  await t.throwsAsync(c.copy('ro', join(dir, 'f'), 'ro:/ro/f', 'in'), { message: /read-only/ });
  await c.kill('ro', 'SIGKILL');
  await c.wait('ro');
  await t.throwsAsync(c.copy('ro', join(dir, 'f'), 'ro:/ro/f', 'in'), { message: /read-only mount/ });
  t.false(existsSync(join(ro, 'f')));
  await c.remove('ro', { force: true });
});
