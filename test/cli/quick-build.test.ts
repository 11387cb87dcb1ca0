// `build [-q] [SERVICE…]` is read without commander (a cached rebuild starts as fast
// as a no-op `up`); anything more is left to commander.
import test from 'ava';
import { quickBuild } from '../../src/cli/main.js';

test('quickBuild takes `[globals] build [-q] [SERVICE…]` only', (t) => {
  t.deepEqual(quickBuild(['build']), { globals: {}, services: [], quiet: false });
  t.deepEqual(quickBuild(['-f', 'a.yaml', '-p', 'build', 'build', '-q']), { globals: { file: ['a.yaml'], projectName: 'build' }, services: [], quiet: true });
  t.deepEqual(quickBuild(['--project-name=x', 'build', 'web', '--quiet', 'db']), { globals: { projectName: 'x' }, services: ['web', 'db'], quiet: true });
  t.is(quickBuild(['build', '--no-cache']), undefined);
  t.is(quickBuild(['build', '--push', 'web']), undefined);
  t.is(quickBuild(['build', '--', 'web']), undefined);
  t.is(quickBuild(['-p', 'build']), undefined, 'a project called build is not the command');
  t.is(quickBuild(['up', 'build']), undefined, 'a service called build is not the command');
  t.is(quickBuild(['--bogus', 'build']), undefined);
  t.is(quickBuild(['image', 'build', '.']), undefined);
});
