// One rule for the project's name (model/project-name.ts): the loader's and the CLI's quick
// name (cli/context.ts, used by ps/logs/down without loading the stack) agree.
import test from 'ava';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Context, type Io } from '../../src/cli/context.js';
import { projectNameFrom } from '../../src/model/project-name.js';

test('projectNameFrom: -p, TSSTACK_PROJECT_NAME, COMPOSE_PROJECT_NAME, name:, the directory, normalized', (t) => {
  const vars = (o: Record<string, string>) => (k: string) => o[k];
  t.deepEqual(projectNameFrom({ option: 'My.App', lookup: vars({ TSSTACK_PROJECT_NAME: 'x' }), fileName: 'f', projectDir: '/d' }), { raw: 'My.App', name: 'myapp' });
  t.is(projectNameFrom({ lookup: vars({ TSSTACK_PROJECT_NAME: 'ts', COMPOSE_PROJECT_NAME: 'c' }), fileName: 'f' })?.name, 'ts');
  t.is(projectNameFrom({ lookup: vars({ COMPOSE_PROJECT_NAME: 'c' }), fileName: 'f' })?.name, 'c');
  t.is(projectNameFrom({ lookup: vars({}), fileName: 'From_File', projectDir: '/d' })?.name, 'from_file');
  t.is(projectNameFrom({ lookup: vars({}), projectDir: '/srv/-Web App/' })?.name, 'webapp');
  t.is(projectNameFrom({ lookup: vars({}) }), undefined);
});

test('the quick name (ps, logs, down) is the loader\'s: a .env beside the file names the project over its name:', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-pname-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const proj = join(dir, 'proj');
  mkdirSync(proj);
  writeFileSync(join(proj, 'stack.yaml'), 'name: fromfile\nservices:\n  a:\n    image: busybox\n');
  const io = (cwd: string): Io => ({ out: () => {}, err: () => {}, tty: false, env: { TSSTACK_ROOT: join(dir, 'root') }, cwd });
  const named = async () => new Context({ file: [join(proj, 'stack.yaml')] }, io(dir)).projectName();
  t.is(await named(), 'fromfile');
  writeFileSync(join(proj, '.env'), 'COMPOSE_PROJECT_NAME=fromenv\n');
  t.is(await named(), 'fromenv');
  t.is(await new Context({ file: [join(proj, 'stack.yaml')], projectName: 'Given' }, io(dir)).projectName(), 'given');
});
