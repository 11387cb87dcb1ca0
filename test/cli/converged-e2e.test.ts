// The no-op `up -d` fast path against the real engine: recorded once a plan is
// empty, and never fooled by a container stopped or a monitor killed since.
import test from 'ava';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isolateNetwork } from './_netns.js';
import { canRun, E2E, leftovers, world } from './_world.js';
import { needs } from '../helpers/skip.js';

isolateNetwork();

const STACK = `
services:
  a:
    image: busybox:latest
    command: ["sleep", "1000000"]
    stop_signal: SIGKILL
  b:
    image: busybox:latest
    command: ["sleep", "1000000"]
    stop_signal: SIGKILL
`;

const settle = () => new Promise((r) => setTimeout(r, 150));

needs(...E2E).serial('a converged up -d is answered from the cache; a stopped container or a dead monitor is still noticed', async (t) => {
  const w = world();
  const T = (...argv: string[]) => w.runEnv({ TSSTACK_PROJECT_NAME: undefined }, '-f', join(w.dir, 'stack.yaml'), '-p', 'conv', ...argv);
  const entry = join(w.root, 'cache', 'converged', 'conv.json');
  const states = async () => (JSON.parse((await T('ps', '-a', '--format', 'json')).out) as { Service: string; State: string }[]).map((c) => `${c.Service} ${c.State}`).sort();
  try {
    await w.busybox('busybox:latest');
    writeFileSync(join(w.dir, 'stack.yaml'), STACK);
    t.is((await T('up', '-d')).code, 0);
    // a change that left the project converged is recorded: the first no-op after it is the fast path
    t.true(existsSync(entry), 'the converged state after a changing up is recorded');
    await settle();
    const noop = await T('up', '-d');
    t.regex(noop.err, /conv is up to date/);
    t.true(existsSync(entry), 'an empty plan is recorded');
    const hit = await T('up', '-d');
    t.is(hit.code, 0);
    t.regex(hit.err, /conv is up to date/);
    const json = await T('up', '-d', '--format', 'json');
    t.deepEqual(JSON.parse(json.out).failed, []);

    // stopped behind the cache's back: up starts it again
    t.is((await T('stop', 'b')).code, 0);
    t.deepEqual(await states(), ['a running', 'b exited']);
    const again = await T('up', '-d');
    t.is(again.code, 0, again.err);
    t.notRegex(again.err, /up to date/);
    t.deepEqual(await states(), ['a running', 'b running']);

    // a monitor killed (by pid: the engine started it for this test) is a dead container to up
    await settle();
    t.regex((await T('up', '-d')).err, /up to date/);
    const ids = (await T('ps', '-q', 'a')).out.trim();
    const state = JSON.parse(readFileSync(join(w.root, 'containers', ids.length === 64 ? ids : (await import('node:fs')).readdirSync(join(w.root, 'containers')).find((d) => d.startsWith(ids))!, 'state.json'), 'utf8')) as { monitorPid: number };
    process.kill(state.monitorPid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    const after = await T('up', '-d');
    t.is(after.code, 0, after.err);
    t.notRegex(after.err, /up to date/);
    t.deepEqual(await states(), ['a running', 'b running']);

    t.is((await T('down')).code, 0);
    t.deepEqual(leftovers(w.root), []);
  } finally {
    await T('down', '-v').catch(() => {});
    w.dispose();
  }
});
