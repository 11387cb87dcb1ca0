// `tsstack exec -d` and `tsstack cp` end to end (issue 13): exec -d starts the
// command and returns at once, as `docker exec -d`; cp out of a directory holding
// a FIFO copies all of it (the FIFO made anew) and exits 0.
import test from 'ava';
import { existsSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isolateNetwork } from './_netns.js';
import { assertNothingLeft, E2E, projectCli, world } from './_world.js';
import { needs } from '../helpers/skip.js';

isolateNetwork();
const maybe = needs(...E2E).serial;

const STACK = `services:
  box:
    image: busybox:latest
    command: ["sh", "-c", "mkdir -p /d/sub && echo one > /d/a && mkfifo /d/sub/pipe && echo two > /d/sub/z && touch /ready && exec sleep 1000"]
    stop_signal: SIGKILL
`;

maybe('exec -d returns at once and the command runs on; cp copies a tree holding a FIFO', async (t) => {
  const w = world();
  try {
    await w.busybox('busybox:latest');
    writeFileSync(join(w.dir, 'stack.yaml'), STACK);
    const { T } = projectCli(w, join(w.dir, 'stack.yaml'), 'cpx');
    t.is((await T('up', '-d')).code, 0);
    for (let i = 0; i < 100 && (await T('exec', '-T', 'box', 'test', '-e', '/ready')).code !== 0; i++) await new Promise((r) => setTimeout(r, 50));

    const started = Date.now();
    const d = await T('exec', '-d', 'box', 'sh', '-c', 'sleep 2; echo late > /tmp/marker');
    const took = Date.now() - started;
    t.is(d.code, 0, d.err);
    t.true(took < 1500, `exec -d returned after ${took} ms`);
    t.is((await T('exec', '-T', 'box', 'test', '-e', '/tmp/marker')).code, 1, 'the command is still running');
    let seen = false;
    for (let i = 0; i < 100 && !seen; i++) {
      seen = (await T('exec', '-T', 'box', 'test', '-e', '/tmp/marker')).code === 0;
      if (!seen) await new Promise((r) => setTimeout(r, 100));
    }
    t.true(seen, 'the detached command ran to its end');
    const bad = await T('exec', '-d', 'box', '/no/such/program');
    t.not(bad.code, 0);
    t.regex(bad.err, /\/no\/such\/program/);

    const out = join(w.base, 'out');
    const cp = await T('cp', 'box:/d', out);
    t.is(cp.code, 0, cp.err);
    t.is(readFileSync(join(out, 'a'), 'utf8'), 'one\n');
    t.is(readFileSync(join(out, 'sub', 'z'), 'utf8'), 'two\n', 'what follows the FIFO is copied too');
    t.true(lstatSync(join(out, 'sub', 'pipe')).isFIFO());
    // and back in, FIFO included, under a new name
    const back = await T('cp', out, 'box:/back');
    t.is(back.code, 0, back.err);
    t.is((await T('exec', '-T', 'box', 'test', '-p', '/back/sub/pipe')).code, 0);
    // -a and -L are accepted; a missing source is "not found" (3)
    mkdirSync(join(w.base, 'got'));
    t.is((await T('cp', '-a', '-L', 'box:/d/a', join(w.base, 'got'))).code, 0);
    t.true(existsSync(join(w.base, 'got', 'a')));
    t.is((await T('cp', 'box:/nope', join(w.base, 'got'))).code, 3);
    t.is((await T('down', '-v')).code, 0);
    assertNothingLeft(t, w);
  } finally {
    // a clean run was disposed by assertNothingLeft: a down now would make the root again
    if (existsSync(w.base)) {
      await projectCli(w, join(w.dir, 'stack.yaml'), 'cpx').T('down', '-v').catch(() => {});
      w.dispose();
    }
  }
});
