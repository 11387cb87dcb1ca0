// What `run --rm` and `down` import: only what they use. Their time is mostly Node's start-up and
// module loading (issue 14), so these tests keep the structure that makes them fast: no
// commander for a plain `down` or `run`, no planner for a run whose network exists, and no
// `netlink` package (~45 ms of struct definitions) to make or remove links: raw-rtnl.ts.
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isolateNetwork } from './_netns.js';
import { E2E, leftovers, world } from './_world.js';
import { needs } from '../helpers/skip.js';
import { withLoadedModules } from '../helpers/loaded-modules.js';
import { tsstackProc } from '../helpers/cli-process.js';

isolateNetwork();

const NETLINK_INDEX = 'node_modules/netlink/dist/index.js';
const NETLINK_RT = 'node_modules/netlink/dist/rt/rt.js';

needs(...E2E).serial('run --rm and down load only what they use', async (t) => {
  const w = world();
  try {
    await w.busybox('busybox:latest');
    const file = join(w.dir, 'stack.yaml');
    writeFileSync(file, 'services:\n  t:\n    image: busybox:latest\n    command: ["/bin/true"]\n  s:\n    image: busybox:latest\n    command: ["sleep", "600"]\n    stop_signal: SIGKILL\n');
    const env = { TSSTACK_ROOT: w.root, TSSTACK_RUN_ROOT: join(w.root, 'run'), TSSTACK_PROJECT_NAME: undefined };
    const cli = (...args: string[]) => withLoadedModules(env, ['-f', file, '-p', 'mods', ...args], w.dir);

    const first = await cli('run', '--rm', 't');
    t.is(first.code, 0, first.err);
    t.true(first.modules.includes('dist/src/reconcile/diff.js'), 'the first run makes the project network through the planner');
    t.true(first.modules.includes('node_modules/koffi/src/koffi/index.cjs'), 'the log sees CommonJS modules too');
    t.false(first.modules.includes(NETLINK_RT), 'links are made without the netlink package (raw-rtnl.ts)');
    const again = await cli('run', '--rm', 't');
    t.is(again.code, 0, again.err);
    for (const m of ['dist/src/reconcile/up.js', 'dist/src/reconcile/diff.js', 'dist/src/reconcile/observe.js', NETLINK_INDEX, NETLINK_RT, 'node_modules/commander/index.js']) {
      t.false(again.modules.includes(m), `run --rm with its network made loads no ${m}`);
    }

    const up = await cli('up', '-d', 's');
    t.is(up.code, 0, up.err);
    const down = await cli('down');
    t.is(down.code, 0, down.err);
    for (const m of ['node_modules/commander/esm.mjs', 'node_modules/commander/index.js', NETLINK_INDEX, NETLINK_RT]) {
      t.false(down.modules.includes(m), `down loads no ${m}`);
    }
    t.true(down.modules.includes('dist/src/engine/network/manager.js'), 'the log sees what down loads');
    t.deepEqual(leftovers(w.root), []);
  } finally {
    await w.run('-f', join(w.dir, 'stack.yaml'), '-p', 'mods', 'down', '-v').catch(() => {});
    w.dispose();
  }
});

// The bundle (what `tsstack` runs) loads node:child_process, node:crypto and node:fs/promises at their
// first use, not with the modules that import them (scripts/build-cli.mjs, lazy-builtins), and hashes
// without node:crypto (src/util/digest.ts): a `run --rm` and a `down` load none of the three.
needs(...E2E).serial('from the bundle, run --rm and down load neither node:crypto, node:child_process nor node:fs/promises', async (t) => {
  const w = world();
  const log = join(w.dir, 'builtins.log');
  const hook = join(w.dir, 'builtin-log.cjs');
  writeFileSync(hook, `process.on('exit', () => require('node:fs').writeFileSync(process.env.TSSTACK_TEST_BUILTIN_LOG, process.moduleLoadList.join('\\n')));\n`);
  try {
    await w.busybox('busybox:latest');
    const file = join(w.dir, 'stack.yaml');
    writeFileSync(file, 'services:\n  t:\n    image: busybox:latest\n    command: ["/bin/true"]\n');
    const env = { TSSTACK_ROOT: w.root, TSSTACK_RUN_ROOT: join(w.root, 'run'), TSSTACK_PROJECT_NAME: undefined, TSSTACK_TEST_BUILTIN_LOG: log, TSSTACK_DEBUG_STARTUP: '1' };
    const cli = async (...args: string[]) => {
      const r = await tsstackProc(env, ['-f', file, '-p', 'lazy', ...args], { cwd: w.dir, nodeArgs: ['--require', hook] });
      return { ...r, builtins: readFileSync(log, 'utf8').split('\n').filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length)) };
    };
    t.is((await cli('run', '--rm', 't')).code, 0, 'the first run makes the network');
    for (const args of [['run', '--rm', 't'], ['down']]) {
      const r = await cli(...args);
      t.is(r.code, 0, r.err);
      t.regex(r.err, /startup: bundle/, 'ran from the bundle');
      for (const m of ['crypto', 'child_process', 'fs/promises']) t.false(r.builtins.includes(m), `${args.join(' ')} loads no node:${m}`);
      // a quiet run prints nothing: Node's stdio streams are never made (bin/tsstack.js, src/util/terminal.ts),
      // and nothing else on its way loads Node's streams, sockets or readline (its stdout here is a pipe)
      if (args[0] === 'run') for (const m of ['stream', 'net', 'readline', 'internal/readline/interface', 'internal/fs/streams']) t.false(r.builtins.includes(m), `run --rm loads no ${m}`);
    }
    t.deepEqual(leftovers(w.root), []);
  } finally {
    await w.run('-f', join(w.dir, 'stack.yaml'), '-p', 'lazy', 'down', '-v').catch(() => {});
    w.dispose();
  }
});

// An exception costs ~25 us (an Error and its stack): a failed read of a file that is not there, an empty
// pipe. A command's own paths throw none (bench/lib/count-exceptions.cjs counts them through the
// process's own debugger session); an up of 20 once threw ~250, most in the starts, both CPUs busy.
needs(...E2E).serial('run --rm, up, a no-op up and down throw no exception on their way', async (t) => {
  const w = world();
  const log = join(w.dir, 'exceptions.log');
  try {
    await w.busybox('busybox:latest');
    const file = join(w.dir, 'stack.yaml');
    writeFileSync(file, 'services:\n  t:\n    image: busybox:latest\n    command: ["/bin/true"]\n  s1:\n    image: busybox:latest\n    command: ["sleep", "600"]\n    stop_signal: SIGKILL\n  s2:\n    image: busybox:latest\n    command: ["sleep", "600"]\n    stop_signal: SIGKILL\n');
    const env = { TSSTACK_ROOT: w.root, TSSTACK_RUN_ROOT: join(w.root, 'run'), TSSTACK_PROJECT_NAME: undefined, TSSTACK_EXCEPTION_LOG: log };
    const cli = async (...args: string[]) => {
      writeFileSync(log, '');
      const r = await tsstackProc(env, ['-f', file, '-p', 'exc', ...args], { cwd: w.dir, nodeArgs: ['--require', join(process.cwd(), 'bench/lib/count-exceptions.cjs')] });
      const text = readFileSync(log, 'utf8');
      return { ...r, text, counted: text.split('\n').slice(1).filter(Boolean) };
    };
    t.is((await cli('run', '--rm', 't')).code, 0, 'the first run makes the network');
    for (const args of [['run', '--rm', 't'], ['up', '-d', 's1', 's2'], ['up', '-d', 's1', 's2'], ['down']]) {
      const r = await cli(...args);
      t.is(r.code, 0, r.err);
      t.regex(r.text, /^exceptions \d+/, 'the hook counted');
      t.deepEqual(r.counted, [], `${args.join(' ')} throws no exception`);
    }
  } finally {
    await w.run('-f', join(w.dir, 'stack.yaml'), '-p', 'exc', 'down', '-v').catch(() => {});
    w.dispose();
  }
});
