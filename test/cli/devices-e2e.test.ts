// devices through `tsstack up` with the real engine: the nodes are there with the given permissions, an
// unchanged file is a no-op, a change of permissions recreates, a missing host device is refused before
// anything changes (naming the service and line), and down leaves nothing.
import test from 'ava';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isolateNetwork } from './_netns.js';
import { assertNothingLeft, E2E, projectCli, world } from './_world.js';
import { needs } from '../helpers/skip.js';

isolateNetwork();

const stack = (fusePerms: string, extra = '') => `
services:
  d:
    image: busybox:latest
    network_mode: none
    stop_signal: SIGKILL
    command: ["sh", "-c", "stat -c '%n %t:%T' /dev/myzero /dev/mynull; head -c 2 /dev/myzero | od -An -tx1; (: > /dev/myfuse) 2>/dev/null && echo fuse-write=ok || echo fuse-write=refused; sleep 1000"]
    devices:
      - /dev/zero:/dev/myzero:r
      - /dev/null:/dev/mynull
      - source: /dev/fuse
        target: /dev/myfuse
        permissions: ${fusePerms}
${extra}`;

needs(...E2E, 'dev:fuse').serial('devices: nodes and permissions in the container; a change recreates; a missing device is refused first; nothing left', async (t) => {
  const w = world();
  const file = join(w.dir, 'stack.yaml');
  const { T, ids, logsUntil } = projectCli(w, file, 'devs');
  const logs = (want: RegExp) => logsUntil('d', want);
  try {
    await w.busybox('busybox:latest');
    writeFileSync(file, stack('r'));
    const up = await T('up', '-d');
    t.is(up.code, 0, up.err);
    t.notRegex(up.err, /devices|not supported/, 'no warning');
    const first = await ids();
    let out = await logs(/fuse-write=/);
    t.regex(out, /\/dev\/myzero 1:5/);
    t.regex(out, /\/dev\/mynull 1:3/);
    t.regex(out, /00 00/);
    t.regex(out, /fuse-write=refused/);

    const again = await T('up', '-d');
    t.is(again.code, 0, again.err);
    t.deepEqual(await ids(), first, 'unchanged: a no-op');

    writeFileSync(file, stack('rw'));
    const changed = await T('up', '-d');
    t.is(changed.code, 0, changed.err);
    const second = await ids();
    t.not(second['devs-d-1'], first['devs-d-1'], 'recreated');
    out = await logs(/fuse-write=/);
    t.regex(out, /fuse-write=ok/);

    writeFileSync(file, stack('r', '  e:\n    image: busybox:latest\n    network_mode: none\n    command: ["true"]\n    devices: ["/dev/tsstack-no-such-device:/dev/x"]\n'));
    const refused = await T('up', '-d');
    t.not(refused.code, 0);
    t.regex(refused.err, /service "e": devices\[0\]: host device \/dev\/tsstack-no-such-device does not exist on this host \(.*stack\.yaml:18\)/);
    t.deepEqual(await ids(), second, 'nothing changed');
  } finally {
    const d = await T('down', '-t', '1');
    if (d.code !== 0) t.log(`down: ${d.err}`);
    assertNothingLeft(t, w);
  }
});
