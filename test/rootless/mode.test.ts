// Rootless mode and its paths (src/engine/rootless/mode.ts): pure, with a fake stat.
import test from 'ava';
import { INSIDE_ENV, needsEngine, rootlessPaths, wantsRootless, type DirStat } from '../../src/engine/rootless/mode.js';

const alice = { uid: 1000, home: '/home/alice' };
const dirs = (m: Record<string, { uid: number; mode: number }>): DirStat => (p) => (m[p] ? { ...m[p], isDirectory: true } : undefined);
const own = dirs({ '/run/user/1000': { uid: 1000, mode: 0o700 } });

test('rootless when not root or asked for, never again inside the namespace', (t) => {
  t.true(wantsRootless([], 1000, {}));
  t.false(wantsRootless(['up'], 0, {}));
  t.true(wantsRootless(['--rootless', 'up'], 0, {}));
  t.false(wantsRootless(['--rootless', 'up'], 0, { [INSIDE_ENV]: '123' }));
  t.false(wantsRootless(['up'], 1000, { [INSIDE_ENV]: '123' }));
});

test('XDG directories when set, else the defaults under the home', (t) => {
  t.deepEqual(rootlessPaths({ XDG_DATA_HOME: '/d', XDG_RUNTIME_DIR: '/run/user/1000' }, alice, own), { root: '/d/tsstack', runRoot: '/run/user/1000/tsstack', warnings: [] });
  const p = rootlessPaths({}, alice, own);
  t.is(p.root, '/home/alice/.local/share/tsstack');
  t.is(p.runRoot, '/tmp/tsstack-run-1000');
  t.regex(p.warnings[0], /XDG_RUNTIME_DIR is not set.*\/tmp\/tsstack-run-1000/);
});

test('relative XDG values are ignored (the spec says so)', (t) => {
  const p = rootlessPaths({ XDG_DATA_HOME: 'rel', XDG_RUNTIME_DIR: 'run' }, alice, own);
  t.is(p.root, '/home/alice/.local/share/tsstack');
  t.is(p.runRoot, '/tmp/tsstack-run-1000');
});

test("never a root path: someone else's or an open XDG_RUNTIME_DIR is not used", (t) => {
  const st = dirs({ '/run/user/0': { uid: 0, mode: 0o700 }, '/run/user/open': { uid: 1000, mode: 0o755 } });
  const sudo = rootlessPaths({ XDG_RUNTIME_DIR: '/run/user/0' }, alice, st);
  t.is(sudo.runRoot, '/tmp/tsstack-run-1000');
  t.regex(sudo.warnings[0], /belongs to uid 0, not to you/);
  const open = rootlessPaths({ XDG_RUNTIME_DIR: '/run/user/open', TMPDIR: '/var/tmp' }, alice, st);
  t.is(open.runRoot, '/var/tmp/tsstack-run-1000');
  t.regex(open.warnings[0], /open to other users \(mode 755\)/);
  t.regex(rootlessPaths({ XDG_RUNTIME_DIR: '/nope' }, alice, st).warnings[0], /\/nope\) is not a directory/);
});

test('TSSTACK_ROOT and TSSTACK_RUN_ROOT still win', (t) => {
  t.deepEqual(rootlessPaths({ TSSTACK_ROOT: '/x', TSSTACK_RUN_ROOT: '/y' }, alice, own), { root: '/x', runRoot: '/y', warnings: [] });
});

test('only commands that use the engine enter the namespace (a Kubernetes deploy, config, help… do not)', (t) => {
  for (const c of [['up'], ['ps'], ['image', 'ls'], ['run'], ['down']]) t.true(needsEngine(c, {}), c.join(' '));
  t.true(needsEngine(['deploy'], { to: 'swarm' }), 'a Swarm deploy pushes local images');
  for (const c of [['config'], ['render'], ['version'], ['completion'], ['help'], []]) t.false(needsEngine(c, {}), c.join(' '));
  t.false(needsEngine(['deploy'], { to: 'kubernetes' }));
});
