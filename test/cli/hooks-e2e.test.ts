// post_start / pre_stop through `tsstack up`/`down` with the real engine: hooks run in the container
// (seen in a bind-mounted host directory), a changed hook recreates (the old container's pre_stop runs
// first), a failing post_start fails `up` naming the service and the hook, and down leaves nothing.
import test from 'ava';
import { isolateNetwork } from './_netns.js';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertNothingLeft, canRun, E2E, projectCli, world } from './_world.js';
import { needs } from '../helpers/skip.js';

isolateNetwork();

const stack = (shared: string, post: string) => `
services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "trap 'echo term >> /shared/log; exit 0' TERM; while true; do sleep 0.05; done"]
    network_mode: none
    volumes: ["${shared}:/shared"]
    post_start:
      - command: ["sh", "-c", "${post}"]
        environment: { WHO: web }
    pre_stop:
      - command: ["sh", "-c", "echo pre_stop $$HOSTNAME >> /shared/log"]
`;

needs(...E2E).serial('post_start and pre_stop around up, recreate and down; a failing post_start fails up; nothing left', async (t) => {
  const w = world();
  const file = join(w.dir, 'stack.yaml');
  const shared = join(w.dir, 'shared');
  mkdirSync(shared);
  chmodSync(shared, 0o777);
  const log = () => (existsSync(join(shared, 'log')) ? readFileSync(join(shared, 'log'), 'utf8').split('\n').filter(Boolean) : []);
  const { T, ids } = projectCli(w, file, 'hk');
  try {
    await w.busybox('busybox:latest');
    writeFileSync(file, stack(shared, 'echo started $$WHO >> /shared/log'));
    const up = await T('up', '-d');
    t.is(up.code, 0, up.err);
    t.false(/post_start|pre_stop/.test(up.err), 'no warning about the hooks');
    t.deepEqual(log(), ['started web']);
    const first = await ids();

    const again = await T('up', '-d');
    t.is(again.code, 0, again.err);
    t.deepEqual(await ids(), first, 'unchanged: a no-op');
    t.deepEqual(log(), ['started web'], 'no hook runs for a no-op');

    writeFileSync(file, stack(shared, 'echo restarted $$WHO >> /shared/log'));
    const changed = await T('up', '-d');
    t.is(changed.code, 0, changed.err);
    t.not((await ids())['hk-web-1'], first['hk-web-1'], 'a changed hook recreates');
    t.deepEqual(log(), ['started web', 'pre_stop hk-web-1', 'term', 'restarted web']);

    writeFileSync(file, stack(shared, 'echo hook broke >&2; exit 4'));
    const failed = await T('up', '-d');
    t.not(failed.code, 0);
    t.regex(failed.err, /service web \(container hk-web-1\): hook post_start\[0\] \(sh -c echo hook broke >&2; exit 4\) failed with exit code 4: hook broke/);
  } finally {
    const d = await T('down', '-t', '2');
    if (d.code !== 0) t.log(`down: ${d.err}`);
    t.deepEqual(log().slice(-2), ['pre_stop hk-web-1', 'term'], 'down runs pre_stop before the stop signal');
    assertNothingLeft(t, w);
  }
});
