// End to end with the real engine: DNS names follow the container state (stop,
// kill, start), internal networks are marked for the DNS server, and `init: true`
// through the whole path (stack file → reconcile → runtime).
import test from 'ava';
import { isolateNetwork } from './_netns.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canRun, leftovers, world as baseWorld } from './_world.js';

isolateNetwork();

function world() {
  const w = baseWorld();
  const stack = (yaml: string) => writeFileSync(join(w.dir, 'stack.yaml'), yaml);
  const T = (...argv: string[]) => w.runEnv({ TSSTACK_PROJECT_NAME: undefined }, '-f', join(w.dir, 'stack.yaml'), '-p', 'gaps', ...argv);
  return { ...w, stack, T };
}

const STACK = `
services:
  a:
    image: busybox:latest
    command: ["sleep", "1000"]
    init: true
    networks: [front]
  b:
    image: busybox:latest
    command: ["sleep", "1000"]
    init: true
    networks: [front]
  c:
    image: busybox:latest
    command: ["sleep", "1000"]
    init: true
    networks: [back]
networks:
  front: {}
  back:
    internal: true
`;

test.serial('DNS answers for running containers only: stop and kill take the name away, start gives it back; internal networks are marked', async (t) => {
  if (!canRun) { t.log('skipped: needs root, busybox-static and native/bin/tsstack-runtime'); t.pass(); return; }
  const w = world();
  try {
    await w.busybox('busybox:latest');
    w.stack(STACK);
    const up = await w.T('up', '-d');
    t.is(up.code, 0, up.err);
    const resolves = async (from: string, name: string) => (await w.T('exec', '-T', from, 'sh', '-c', `nslookup ${name} >/dev/null 2>&1`)).code === 0;
    t.true(await resolves('a', 'b'), 'b resolves while it runs');
    t.true(await resolves('c', 'c'));

    // init: true — `sleep` is not pid 1, and stops on SIGTERM well within the 10 s default grace period
    const pid1 = await w.T('exec', '-T', 'b', 'sh', '-c', 'tr "\\0" " " < /proc/1/cmdline | grep -q "^/dev/init -- sleep 1000"');
    t.is(pid1.code, 0, 'tsstack-init is pid 1');
    t.is((await w.T('stop', 'b')).code, 0);
    t.is(JSON.parse((await w.T('ps', '-a', '--format', 'json', 'b')).out)[0].ExitCode, 143, 'sleep ended by the forwarded SIGTERM');
    t.false(await resolves('a', 'b'), 'a stopped container has no name');
    t.is((await w.T('start', 'b')).code, 0);
    t.true(await resolves('a', 'b'), 'started again: the name is back');
    t.is((await w.T('kill', 'b')).code, 0);
    t.false(await resolves('a', 'b'), 'a killed container (no restart policy) has no name');

    // the internal network is given to the DNS server as internal (names not local are refused, not forwarded)
    const state = JSON.parse(readFileSync(join(w.root, 'run', 'dns', 'state.json'), 'utf8')) as { networks: Record<string, unknown> };
    t.like(state.networks['gaps_back'], { internal: true });
    t.is(typeof state.networks['gaps_front'], 'string');
    t.is((await w.T('down', '-t', '1')).code, 0);
    t.deepEqual(leftovers(w.root), []);
  } finally {
    await w.T('down', '-v', '-t', '1').catch(() => {});
    w.dispose();
  }
});
