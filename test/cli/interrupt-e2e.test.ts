// Ctrl-C during `up`: the steps under way finish, no other starts, the command says so and
// exits 130, and nothing is left half made (no change for the next command to undo).
import test from 'ava';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isolateNetwork } from './_netns.js';
import { assertNothingLeft, E2E, projectCli, world } from './_world.js';
import { needs } from '../helpers/skip.js';

isolateNetwork();

const BIN = fileURLToPath(new URL('../../../bin/tsstack.js', import.meta.url));

// `after` waits for `slow` to be healthy, which it never is: `up` waits until interrupted
const STACK = `
services:
  slow:
    image: busybox:latest
    command: ["sleep", "1000000"]
    stop_signal: SIGKILL
    healthcheck:
      test: ["CMD", "false"]
      interval: 1s
      retries: 1000
  after:
    image: busybox:latest
    command: ["sleep", "1000000"]
    stop_signal: SIGKILL
    depends_on:
      slow:
        condition: service_healthy
`;

needs(...E2E).serial('Ctrl-C during up: the steps under way finish, none starts after, exit 130; the next up goes on', async (t) => {
  const w = world();
  const file = join(w.dir, 'stack.yaml');
  const { T } = projectCli(w, file, 'intr');
  const states = async () => Object.fromEntries((JSON.parse((await T('ps', '-a', '--format', 'json')).out || '[]') as { Service: string; State: string }[]).map((c) => [c.Service, c.State]));
  try {
    await w.busybox('busybox:latest');
    writeFileSync(file, STACK);
    const child = spawn(process.execPath, [BIN, '-f', file, '-p', 'intr', 'up', '-d'], {
      env: { ...process.env, TSSTACK_ROOT: w.root, TSSTACK_RUN_ROOT: join(w.root, 'run'), TSSTACK_PROJECT_NAME: '' },
      cwd: w.dir, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    // interrupted once `slow` runs and `up` waits for its health
    for (let i = 0; i < 200 && (await states()).slow !== 'running'; i++) await new Promise((r) => setTimeout(r, 50));
    t.is((await states()).slow, 'running', err);
    await new Promise((r) => setTimeout(r, 300));
    process.kill(child.pid!, 'SIGINT');
    const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running after 15 s'), 15_000))]);
    if (code === 'still running after 15 s') child.kill('SIGKILL');
    t.is(code, 130, err);
    t.regex(err, /interrupted: finishing the steps under way/);
    t.regex(err, /up: interrupted; .*Run `tsstack up` again to go on/);
    t.notRegex(err, /error:/, 'a wait given up is not a failure');
    const after = await states();
    t.is(after.slow, 'running');
    t.not(after.after, 'running', 'nothing was started after the interrupt');
    // nothing half made: no change of the interrupted command for the next one to finish or undo
    const plan = await T('plan');
    t.notRegex(plan.err, /left changes half made/);
    t.is((await T('down')).code, 0);
  } finally {
    await T('down', '-v').catch(() => undefined);
  }
  assertNothingLeft(t, w);
});
