// `tsstack image build`: docker build's command line over the same builder and
// cache the services' builds use (real image store in a temporary root).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { keyValues } from '../../src/cli/commands/images.js';
import { Sandbox } from '../examples/_cli.js';
import { needs } from '../helpers/skip.js';

test('keyValues: KEY=value, KEY alone from the environment (skipped when unset), an empty name refused', (t) => {
  t.deepEqual(keyValues(['A=1', 'B', 'C', 'D=x=y', 'E='], { B: 'env' }, '--build-arg'), { A: '1', B: 'env', D: 'x=y', E: '' });
  t.throws(() => keyValues(['=v'], {}, '--build-arg'), { message: /--build-arg "=v" has no name/ });
});

needs('root').serial('image build -t, -f, --build-arg, --label, --target; -f - reads stdin; the second build is cached; a bad context is exit 2', async (t) => {
  const b = new Sandbox();
  t.teardown(() => b.dispose());
  const ctx = join(b.base, 'ctx');
  mkdirSync(ctx);
  writeFileSync(join(ctx, 'hello.txt'), 'hi\n');
  writeFileSync(join(b.base, 'Other.dockerfile'), 'FROM scratch AS one\nARG V\nCOPY hello.txt /one-$V\nFROM scratch AS two\nCOPY hello.txt /two\n');
  const r = await b.tsstack('image', 'build', '-t', 'example.test/built:1', '-t', 'example.test/built:latest', '-f', join(b.base, 'Other.dockerfile'),
    '--build-arg', 'V=7', '--label', 'k=v', '--target', 'one', ctx);
  t.is(r.code, 0, r.err);
  const id = r.out.trim();
  t.regex(id, /^sha256:[0-9a-f]{64}$/);
  const [info] = JSON.parse((await b.tsstack('image', 'inspect', 'example.test/built:latest')).out) as { id: string; config: { Labels?: Record<string, string> } }[];
  t.is(info!.id, id);
  t.deepEqual(info!.config.Labels, { k: 'v' });
  const again = await b.tsstack('image', 'build', '-t', 'example.test/built:1', '-f', join(b.base, 'Other.dockerfile'), '--build-arg', 'V=7', '--label', 'k=v', '--target', 'one', ctx);
  t.is(again.out.trim(), id, 'the same inputs give the same image');
  t.regex(again.err, /CACHED/);

  const piped = spawnSync('node', [resolve('bin/tsstack.js'), 'image', 'build', '-q', '-t', 'example.test/piped:1', '-f', '-', ctx], { input: 'FROM scratch\nCOPY hello.txt /p\n', env: b.env, encoding: 'utf8' });
  t.is(piped.status, 0, piped.stderr);
  t.regex(piped.stdout.trim(), /^sha256:/);
  t.is(piped.stderr, '', '-q prints nothing but the id');

  const bad = await b.tsstack('image', 'build', '-t', 'x:1', join(b.base, 'no-such-dir'));
  t.is(bad.code, 2);
  t.regex(bad.err, /build context .* is not a directory/);
});
