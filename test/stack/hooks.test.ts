// post_start / pre_stop: from the stack file to the model, bad values refused at their line.
import test from 'ava';
import { loadStack } from '../../src/stack/load.js';
import { project, refusedAt } from './helpers.js';

test('hooks: long form kept, command strings split, environment as a sorted map, no warning', async (t) => {
  const dir = project(t, {
    'compose.yaml': [
      'services:',
      '  web:',
      '    image: busybox',
      '    post_start:',
      '      - command: ["sh", "-c", "echo up > /tmp/x"]',
      '        user: "1000:1000"',
      '        privileged: true',
      '        working_dir: /srv',
      '        environment:',
      '          Z: "1"',
      '          A: two',
      '      - command: echo "second hook"',
      '        environment: [B=b, FROM_ENV, UNSET]',
      '    pre_stop:',
      '      - command: ["sh", "-c", "echo bye"]',
      '        privileged: "false"',
      '',
    ].join('\n'),
  });
  const m = await loadStack({ projectDir: dir, env: { FROM_ENV: 'e' } });
  t.deepEqual(m.warnings, []);
  t.deepEqual(m.services.web!.post_start, [
    { command: ['sh', '-c', 'echo up > /tmp/x'], user: '1000:1000', privileged: true, working_dir: '/srv', environment: { A: 'two', Z: '1' } },
    { command: ['echo', 'second hook'], environment: { B: 'b', FROM_ENV: 'e' } },
  ]);
  t.deepEqual(m.services.web!.pre_stop, [{ command: ['sh', '-c', 'echo bye'] }]);
  t.deepEqual(Object.keys(m.services.web!.environment), []);
});

test('hooks: absent or empty lists leave the keys unset', async (t) => {
  const dir = project(t, { 'compose.yaml': 'services:\n  a:\n    image: busybox\n  b:\n    image: busybox\n    post_start: []\n' });
  const m = await loadStack({ projectDir: dir, env: {} });
  t.false('post_start' in m.services.a! || 'pre_stop' in m.services.a!);
  t.false('post_start' in m.services.b!);
});

const refused = refusedAt;

test('hooks: an empty command and a relative working_dir are errors at their line', async (t) => {
  await refused(t, 'services:\n  a:\n    image: busybox\n    pre_stop:\n      - command: []\n', 5, /pre_stop\[0\] has no command/);
  await refused(t, 'services:\n  a:\n    image: busybox\n    post_start:\n      - command: ["true"]\n        working_dir: rel\n', 6, /working_dir must be an absolute path/);
});
