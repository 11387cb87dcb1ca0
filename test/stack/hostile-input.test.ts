// Input that once crashed or hung the loader: refused with a located error instead.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import test from 'ava';
import { loadStack } from '../../src/stack/load.js';
import { project } from './helpers.js';

test('${A:-${B:-…}} nested 3000 deep is a located error, not a stack overflow', async (t) => {
  let s = 'x';
  for (let i = 0; i < 3000; i++) s = `\${A${i}:-${s}}`;
  const dir = project(t, { 'compose.yaml': `services:\n  a:\n    image: a\n    command: "${s}"\n` });
  const e = await t.throwsAsync(loadStack({ files: [join(dir, 'compose.yaml')], env: {} }), { message: /nested more than 64 deep/ });
  t.true(e!.message.length < 1000, 'the message quotes the start of the template only');
});

for (const [key, yaml] of [
  ['env_file', 'services:\n  a:\n    image: a\n    env_file: SRC\n'],
  ['extends.file', 'services:\n  a:\n    extends:\n      file: SRC\n      service: b\n'],
  ['include', 'include:\n  - SRC\nservices: {}\n'],
  ['label_file', 'services:\n  a:\n    image: a\n    label_file: SRC\n'],
] as const) {
  for (const src of ['/dev/zero', 'fifo']) {
    test(`${key} naming ${src} is refused as not a regular file, at once`, async (t) => {
      const dir = project(t, { 'compose.yaml': yaml.replace('SRC', src) });
      execFileSync('mkfifo', [join(dir, 'fifo')]);
      const t0 = Date.now();
      await t.throwsAsync(loadStack({ files: [join(dir, 'compose.yaml')], env: {} }), { message: /not a regular file/ });
      t.true(Date.now() - t0 < 2000);
    });
  }
}

test('a "variable is not set" warning goes out with the error that follows it', async (t) => {
  const { renderError } = await import('../../src/cli/errors.js');
  const dir = project(t, { 'compose.yaml': 'services:\n  a:\n    image: a\n    platform: linux/${ARCH}\n' });
  const e = await t.throwsAsync(loadStack({ files: [join(dir, 'compose.yaml')], env: {} }));
  const text = renderError(e);
  t.regex(text, /^warning: .*compose\.yaml:4: services\.a\.platform: the "ARCH" variable is not set/m);
  t.true(text.indexOf('warning:') < text.indexOf('error:'));
});

test('integers beyond 2^53 keep every digit as written (environment, labels); safe ones stay numbers', async (t) => {
  const dir = project(t, { 'compose.yaml': 'services:\n  a:\n    image: a\n    environment:\n      BIG: 12345678901234567890\n      NEG: -98765432109876543210\n      SMALL: 42\n    labels:\n      id: 9007199254740993\n' });
  const m = await loadStack({ files: [join(dir, 'compose.yaml')], env: {} });
  t.deepEqual(m.services.a!.environment, { BIG: '12345678901234567890', NEG: '-98765432109876543210', SMALL: '42' });
  t.is(m.services.a!.labels.id, '9007199254740993');
});
