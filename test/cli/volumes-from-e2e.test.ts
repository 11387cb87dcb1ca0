// volumes_from through `tsstack up`/`down` with the real engine: the app gets db's named volume and bind
// mount (not its tmpfs), read-only with :ro; db starts first (implicit dependency); a change of the mode
// recreates only the app; down -v leaves nothing.
import test from 'ava';
import { isolateNetwork } from './_netns.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertNothingLeft, canRun, E2E, projectCli, world } from './_world.js';
import { needs } from '../helpers/skip.js';

isolateNetwork();

const LOOP = "trap 'exit 0' TERM; while true; do sleep 0.05; done";
const stack = (shared: string, from: string) => `
services:
  app:
    image: busybox:latest
    command: ["sh", "-c", "cat /conf/greeting; while [ ! -e /data/from-db ]; do sleep 0.05; done; ls /data; (echo x > /data/app) 2>/dev/null && echo data-rw || echo data-ro; grep -c ' /scratch ' /proc/self/mountinfo; ${LOOP}"]
    network_mode: none
    volumes_from: ["${from}"]
  db:
    image: busybox:latest
    command: ["sh", "-c", "touch /data/from-db; ${LOOP}"]
    network_mode: none
    volumes: ["data:/data", "${shared}:/conf"]
    tmpfs: [/scratch]
volumes:
  data: {}
`;

needs(...E2E).serial('volumes_from: a service\'s volume and bind at the same targets, ro, recreate on change; nothing left', async (t) => {
  const w = world();
  const file = join(w.dir, 'stack.yaml');
  const shared = join(w.dir, 'shared');
  mkdirSync(shared);
  writeFileSync(join(shared, 'greeting'), 'hello from the host\n');
  const { T, ids, logsUntil } = projectCli(w, file, 'vf');
  const logsOfApp = (want: RegExp) => logsUntil('app', want, '--no-log-prefix');
  try {
    await w.busybox('busybox:latest');
    writeFileSync(file, stack(shared, 'db:ro'));
    const up = await T('up', '-d');
    t.is(up.code, 0, up.err);
    t.false(/volumes_from/.test(up.err), 'no warning about volumes_from');
    t.deepEqual((await logsOfApp(/^\d+$/m)).trim().split('\n'), ['hello from the host', 'from-db', 'data-ro', '0'], 'db ran first; its volume and bind, read-only; not its tmpfs');
    const first = await ids();

    const again = await T('up', '-d');
    t.is(again.code, 0, again.err);
    t.deepEqual(await ids(), first, 'unchanged: a no-op');

    writeFileSync(file, stack(shared, 'service:db:rw'));
    const changed = await T('up', '-d');
    t.is(changed.code, 0, changed.err);
    const second = await ids();
    t.not(second['vf-app-1'], first['vf-app-1'], 'app recreated');
    t.is(second['vf-db-1'], first['vf-db-1'], 'db kept');
    t.regex(await logsOfApp(/data-r[ow]/), /data-rw/);

    // `run` plans its container alone: the borrowed service's container is found by name, also by a container_name
    writeFileSync(file, stack(shared, 'db').replace('  db:\n', '  db:\n    container_name: vf-database\n'));
    const renamed = await T('up', '-d');
    t.is(renamed.code, 0, renamed.err);
    const r = await T('run', '--rm', '-T', 'app', 'cat', '/conf/greeting');
    t.is(r.code, 0, r.err);
    t.regex(r.out, /hello from the host/);
  } finally {
    const d = await T('down', '-v', '-t', '1');
    if (d.code !== 0) t.log(`down: ${d.err}`);
    assertNothingLeft(t, w);
  }
});
