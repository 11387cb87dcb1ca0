// pid: service:, security_opt and platform through `tsstack up` with the real engine: the implicit
// dependency orders the start, a change of security_opt recreates, a foreign platform is refused
// before anything is made, and down leaves nothing.
import test from 'ava';
import { isolateNetwork } from './_netns.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostPlatform } from '../../src/reconcile/platform.js';
import { assertNothingLeft, canRun, E2E, projectCli, world } from './_world.js';
import { needs } from '../helpers/skip.js';

isolateNetwork();

const stack = (b: string) => `
services:
  a:
    image: busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
    network_mode: none
  b:
    image: busybox:latest
    command: ["sh", "-c", "tr '\\\\0' ' ' < /proc/1/cmdline; echo; grep NoNewPrivs /proc/self/status; sleep 1000"]
    network_mode: none
    pid: "service:a"
    stop_signal: SIGKILL
${b}
`;

needs(...E2E).serial('pid: service:a sees a\'s processes; security_opt change recreates; foreign platform refused; nothing left', async (t) => {
  const w = world();
  const file = join(w.dir, 'stack.yaml');
  const { T, ids, logsUntil } = projectCli(w, file, 'iso');
  const logsOfB = (want: RegExp) => logsUntil('b', want);
  try {
    await w.busybox('busybox:latest');
    writeFileSync(file, stack(`    platform: ${hostPlatform()}\n    security_opt: [no-new-privileges:true, label=disable]`));
    const up = await T('up', '-d');
    t.is(up.code, 0, up.err);
    t.regex(up.err, /security_opt\[1\].*SELinux/);
    const first = await ids();
    t.deepEqual(Object.keys(first).sort(), ['iso-a-1', 'iso-b-1']);
    const out = await logsOfB(/NoNewPrivs/);
    t.regex(out, /sh -c trap 'exit 0' TERM; sleep 1000 & wait/, 'pid 1 of b is a\'s init');
    t.regex(out, /NoNewPrivs:\s+1/);

    const again = await T('up', '-d');
    t.is(again.code, 0, again.err);
    t.deepEqual(await ids(), first, 'unchanged: a no-op');

    writeFileSync(file, stack(`    platform: ${hostPlatform()}`));
    const changed = await T('up', '-d');
    t.is(changed.code, 0, changed.err);
    const second = await ids();
    t.not(second['iso-b-1'], first['iso-b-1'], 'b recreated');
    t.is(second['iso-a-1'], first['iso-a-1'], 'a kept');
    t.regex(await logsOfB(/NoNewPrivs/), /NoNewPrivs:\s+0/);

    const foreign = hostPlatform() === 'linux/arm64' ? 'linux/amd64' : 'linux/arm64';
    writeFileSync(file, stack(`    platform: ${foreign}`));
    const refused = await T('up', '-d');
    t.not(refused.code, 0);
    t.regex(refused.err, new RegExp(`service "b": platform ${foreign} is not this host's`));
    t.deepEqual(await ids(), second, 'nothing changed');
  } finally {
    const d = await T('down', '-t', '1');
    if (d.code !== 0) t.log(`down: ${d.err}`);
    assertNothingLeft(t, w);
  }
});
