// The dashboard in a real browser (Debian's chromium driven by playwright-core) against a real stack
// brought up by the real CLI: `tsstack up --watch --ui` as a child process in this file's own network
// namespace. The page shows each service and its health, a killed container turning red and healthy
// again, a stack-file edit's plan and result, a container's log line, the restart button at work; a
// request without the token gets 401. The main view's screenshot is kept in test-artifacts/.
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { BIN, isolateNetwork, REPO, settledLeftovers, until } from '../examples/_cli.js';
import { E2E, world } from '../cli/_world.js';
import { needs } from '../helpers/skip.js';
import { cli as runCli, cliEnv, killContainer } from './_stack.js';

const STACK = (workerWord: string) => `name: uidemo
services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "echo hello-from-web; exec httpd -f -p 80 -h /etc"]
    restart: always
    ports: ["18080:80"]
    mem_limit: 64m
    cpus: 0.5
    pids_limit: 100
    healthcheck:
      test: ["CMD-SHELL", "echo health-ok"]
      interval: 1s
      timeout: 1s
      retries: 1
  worker:
    image: busybox:latest
    command: ["sh", "-c", "echo ${workerWord}; exec sleep 86400"]
    depends_on: [web]
    stop_signal: SIGKILL
`;

needs(...E2E, 'chromium').serial('the dashboard shows the stack live and acts on it', async (t) => {
  isolateNetwork();
  const w = world();
  await w.busybox('busybox:latest');
  const file = join(w.dir, 'stack.yaml');
  writeFileSync(file, STACK('worker-v1'));
  const env = cliEnv(w.root);
  const cli = (...args: string[]) => runCli(w.root, w.dir, file, ...args);
  const child: ChildProcess = spawn(process.execPath, [BIN, '-f', file, 'up', '--watch', '--ui'], { cwd: w.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (d) => { text += d; });
  child.stderr!.on('data', (d) => { text += d; });
  let browser: Browser | undefined;
  let finished = false;
  t.teardown(async () => {
    if (finished) return;
    await browser?.close().catch(() => {});
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      await until(async () => child.exitCode !== null || child.signalCode !== null, 20_000, 100);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await cli('down');
    w.dispose();
  });
  t.true(await until(async () => /watching for changes/.test(text), 120_000, 100), text);
  const url = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(text)?.[1];
  t.truthy(url, text);
  const origin = new URL(url!).origin;

  // a request without the token is refused
  t.is((await fetch(`${origin}/api/state`)).status, 401);
  t.is((await fetch(`${origin}/`)).status, 401);

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(url!);
  t.is(new URL(page.url()).search, '', 'the token left the address bar');
  const web = page.getByTestId('service-web');
  const worker = page.getByTestId('service-worker');
  // each service and its health
  await web.and(page.locator('[data-state=ok]')).waitFor({ timeout: 30_000 });
  await worker.and(page.locator('[data-state=ok]')).waitFor({ timeout: 30_000 });
  t.is(await page.getByTestId('container-uidemo-web-1').getAttribute('data-health'), 'healthy');
  t.regex(await page.getByTestId('health-web').innerText(), /health-ok/);
  t.regex(await web.innerText(), /18080→80/);
  // the logs panel shows what the containers printed
  await page.locator('#logs').getByText('hello-from-web').first().waitFor({ timeout: 10_000 });
  await page.locator('#logs').getByText('worker-v1').first().waitFor({ timeout: 10_000 });
  // the charts got samples
  await page.locator('#charts canvas').nth(7).waitFor({ timeout: 10_000 });
  // the limits are drawn and written beside the figures
  await page.locator('#charts canvas[data-metric=pids][title$="/ 100"]').first().waitFor({ timeout: 10_000 });
  t.regex(await page.locator('#charts canvas[data-metric=mem]').first().getAttribute('title') ?? '', /\/ 64\.0MiB$/);
  t.regex(await page.locator('#charts canvas[data-metric=cpu]').first().getAttribute('title') ?? '', /\/ 50%$/);
  mkdirSync(join(REPO, 'test-artifacts'), { recursive: true });
  await page.screenshot({ path: join(REPO, 'test-artifacts/ui-main.png'), fullPage: true });

  // kill the web container (SIGKILL to every process of its cgroup, v1 or v2): red, then healthy again after the monitor restarts it
  const ps = JSON.parse((await cli('ps', '--format', 'json')).out) as { ID: string; Service: string }[];
  const webId = ps.find((r) => r.Service === 'web')!.ID;
  const killed = Date.now();
  t.true(killContainer(webId), 'the container\'s processes were found in its cgroup');
  await web.and(page.locator('[data-state=bad]')).waitFor({ timeout: 5000 });
  t.log(`red after ${Date.now() - killed} ms`);
  await web.and(page.locator('[data-state=ok]')).waitFor({ timeout: 30_000 });
  t.regex(await page.getByTestId('restarts-web').innerText(), /1 restart/);

  // the restart button restarts the container: it prints its first line again
  const before = ((await cli('logs', 'web')).out.match(/hello-from-web/g) ?? []).length;
  await page.getByTestId('restart-uidemo-web-1').click();
  t.true(await until(async () => ((await cli('logs', 'web')).out.match(/hello-from-web/g) ?? []).length > before, 20_000, 200), 'web printed its first line again');
  await web.and(page.locator('[data-state=ok]')).waitFor({ timeout: 30_000 });

  // exec a one-line command, then a shell in the page's terminal
  page.once('dialog', (d) => void d.accept('echo from-exec $((6*7))'));
  await page.getByTestId('exec-uidemo-web-1').click();
  await page.getByTestId('exec-output').getByText('from-exec 42').waitFor({ timeout: 20_000 });
  t.regex(await page.getByTestId('exec-output').innerText(), /\(exit 0\)/);
  await page.locator('#exec-dialog button').click();
  await page.getByTestId('shell-uidemo-web-1').click();
  await page.locator('#terminal .xterm-rows').waitFor({ timeout: 10_000 });
  await page.locator('#terminal').click();
  await page.waitForTimeout(1000);
  await page.keyboard.type('echo shell-$((7*6)) in $(hostname)\n');
  await page.locator('#terminal .xterm-rows', { hasText: 'shell-42 in uidemo-web-1' }).waitFor({ timeout: 20_000 }).catch(async (e) => {
    t.log(await page.locator('#terminal').innerText());
    throw e;
  });
  await page.screenshot({ path: join(REPO, 'test-artifacts/ui-shell.png') });
  await page.locator('#shell-close').click();

  // watch mode: an edit of the stack file shows up as a reconcile with its plan and its result
  writeFileSync(file, readFileSync(file, 'utf8').replace('worker-v1', 'worker-v2'));
  const entry = page.locator('#history li', { hasText: 'stack.yaml changed' });
  await entry.waitFor({ timeout: 30_000 });
  await entry.and(page.locator('[data-state=done]')).waitFor({ timeout: 60_000 });
  t.regex(await entry.innerText(), /recreate service:worker:1 \(changed: command/);
  await page.locator('#plan', { hasText: 'no changes: uidemo is up to date' }).waitFor({ timeout: 10_000 });
  await page.locator('#logs').getByText('worker-v2').first().waitFor({ timeout: 10_000 });
  await page.screenshot({ path: join(REPO, 'test-artifacts/ui-after-edit.png'), fullPage: true });

  await browser.close();
  browser = undefined;
  child.kill('SIGINT');
  t.true(await until(async () => child.exitCode !== null, 30_000, 100), text);
  t.is(child.exitCode, 0, text);
  t.is((await cli('down')).code, 0);
  t.deepEqual(await settledLeftovers(w.root, [webId]), []);
  finished = true;
  w.dispose();
});
