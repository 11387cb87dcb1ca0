// What `run --rm` writes: its container is removed by the command that made it, so its record and its
// bundle's config.json are renamed into place without fsync (issue 14: fsyncs block the one JavaScript thread); a kill -9
// of the CLI at any point still leaves what recovery cleans (test/faults/crash.test.ts), and a
// record a power cut emptied is a directory without a record, which recovery removes.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isolateNetwork } from './_netns.js';
import { E2E, leftovers, world } from './_world.js';
import { needs } from '../helpers/skip.js';
import { TSSTACK_BIN } from '../helpers/cli-process.js';

isolateNetwork();

needs(...E2E, 'strace').serial('run --rm fsyncs no record nor bundle of its container; run without --rm does', async (t) => {
  const w = world();
  const trace = join(w.base, 'fsync.trace');
  const file = join(w.dir, 'stack.yaml');
  try {
    await w.busybox('busybox:latest');
    writeFileSync(file, 'services:\n  t:\n    image: busybox:latest\n    command: ["/bin/true"]\n');
    const env = { ...process.env, TSSTACK_ROOT: w.root, TSSTACK_RUN_ROOT: join(w.root, 'run'), NO_COLOR: '1' };
    const records = (...args: string[]) => {
      // the CLI itself, traced; the monitor it starts is let go at its exec. Its stdin is /dev/null: a pipe
      // would be passed on (as Compose does) and the run attached to it, without a monitor
      const r = spawnSync('strace', ['-f', '--detach-on=execve', '-y', '-e', 'trace=fsync,fdatasync', '-o', trace,
        process.execPath, TSSTACK_BIN, '-f', file, '-p', 'rmw', 'run', ...args, 't'], { env, encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] });
      t.is(r.status, 0, r.stderr);
      return readFileSync(trace, 'utf8').split('\n').map((l) => /(?:fsync|fdatasync)\(\d+<([^>]*)>/.exec(l)?.[1])
        .filter((p): p is string => !!p && /\/\.(container|config)\.json\.\d+\.[0-9a-z]+\.tmp$/.test(p)).map((p) => p.replace(/.*\/\.(\w+)\.json\..*/, '$1'));
    };
    records('--rm'); // the first run also makes the project network
    t.deepEqual(records('--rm'), [], 'no container record or bundle of a run --rm is fsync\'d');
    const kept = records();
    t.true(kept.includes('container') && kept.includes('config'), `a run container that stays has a durable record and bundle: ${kept.join(', ')}`);
    t.is((await w.run('-f', file, '-p', 'rmw', 'down')).code, 0);
    t.deepEqual(leftovers(w.root), []);
  } finally {
    await w.run('-f', file, '-p', 'rmw', 'down', '-v').catch(() => {});
    w.dispose();
  }
});
