// `tsstack ui` replaces itself once with the same command under V8's lite mode and a small young
// generation (src/ui/lean-exec.ts), to stay in its memory budget: same pid, its stdio kept (the URL
// still reaches the caller), no warning printed, the dashboard answering with its token and refusing
// without it, and Ctrl-C ending it.
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, isolateNetwork } from '../examples/_cli.js';
import { needs } from '../helpers/skip.js';
import { cliEnv } from './_stack.js';

needs('root').serial('tsstack ui runs as itself under lite mode: same pid, stdio kept, token enforced, Ctrl-C ends it', async (t) => {
  isolateNetwork();
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-ui-lean-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'stack.yaml'), 'name: lean\nservices:\n  a:\n    image: busybox:latest\n');
  const c = spawn(process.execPath, [BIN, '-f', 'stack.yaml', 'ui'], { cwd: dir, env: cliEnv(join(dir, 'root')), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  c.stdout.on('data', (d) => { out += d; });
  c.stderr.on('data', (d) => { err += d; });
  const exited = new Promise<number | null>((r) => c.on('close', (code) => r(code)));
  t.teardown(() => { if (c.exitCode === null) c.kill('SIGKILL'); });
  const deadline = Date.now() + 20_000;
  while (!/dashboard: (http\S+)/.test(out) && c.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const url = /dashboard: (http\S+)/.exec(out)?.[1];
  t.truthy(url, `no URL printed; out: ${out} err: ${err}`);
  const cmdline = readFileSync(`/proc/${c.pid}/cmdline`, 'utf8').split('\0');
  t.true(cmdline.includes('--lite-mode'), cmdline.join(' '));
  t.true(cmdline.includes('--max-semi-space-size=1'), cmdline.join(' '));
  t.true(cmdline.includes('ui'), 'the same command');
  const first = await fetch(url!, { redirect: 'manual' }); // the token is traded for a cookie
  t.true(first.status < 400, String(first.status));
  const u = new URL(url!);
  t.is((await fetch(`${u.origin}/`)).status, 401);
  t.notRegex(err, /Warning/);
  c.kill('SIGINT');
  t.is(await exited, 0, err);
});
