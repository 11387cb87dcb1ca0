// The heal-* fault tests: a real stack in this worker's own network namespace, a fault made by
// hand (a process killed, the firewall flushed, a bridge deleted), then `plan` must say what it
// will repair and why, and `up -d` (or `restart`) must make it work again. Nothing may be left.
import test, { type ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { isolateNetwork } from '../cli/_netns.js';
import { missing, skipWhen } from '../helpers/skip.js';
import { assertNothingLeft, E2E, projectCli, world, type Run, type World } from '../cli/_world.js';

const netnsIno = (): number | undefined => {
  try {
    return statSync('/proc/self/ns/net').ino;
  } catch {
    return undefined;
  }
};

// This worker leaves the namespace it started in (test.sh's) for one of its own: only then are its
// firewall and links the test's to break (`nft flush ruleset`, `ip link del`). Checked, not assumed.
const started = netnsIno();
const isolated = isolateNetwork();
export const privateNetns = isolated && started !== undefined && netnsIno() !== started;

const why = missing(...E2E) ?? (privateNetns ? undefined : 'could not enter a network namespace of its own');
export const runnable = !why;

export interface Ps { ID: string; Name: string; Service: string; State: string; ExitCode: number; Status: string }

export interface Heal {
  w: World;
  T: (...argv: string[]) => Promise<Run>;
  ps: () => Promise<Ps[]>;
  stack: (yaml: string) => void;
  /** `sh -c script` in a service's container: its exit code. */
  sh: (service: string, script: string) => Promise<number>;
}

/** A serial test with a world (busybox image), a project and a stack; downs it with -v and checks nothing is left. */
export function healTest(title: string, project: string, yaml: string, body: (h: Heal, t: ExecutionContext) => Promise<void>): void {
  skipWhen(why, why).serial(title, async (t) => {
    const w = world();
    const file = join(w.dir, 'stack.yaml');
    const stack = (y: string) => writeFileSync(file, y);
    stack(yaml);
    const { T } = projectCli(w, file, project);
    const ps = async () => JSON.parse((await T('ps', '-a', '--format', 'json')).out || '[]') as Ps[];
    const sh = async (service: string, script: string) => (await T('exec', '-T', service, 'sh', '-c', script)).code;
    try {
      await w.busybox('busybox:latest');
      await body({ w, T, ps, stack, sh }, t);
    } finally {
      const d = await T('down', '-v', '-t', '1');
      if (d.code !== 0) t.log(`down: ${d.err}`);
      assertNothingLeft(t, w);
    }
  });
}

/** Polls `f` every 50 ms until it holds or `ms` pass; whether it held. */
export async function until(f: () => boolean | Promise<boolean>, ms = 5000): Promise<boolean> {
  for (const end = Date.now() + ms; ; await new Promise((r) => setTimeout(r, 50))) {
    if (await f()) return true;
    if (Date.now() >= end) return false;
  }
}

export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}

/** Pids whose argv (NUL-joined) contains every one of `parts`. */
export function pidsWith(...parts: string[]): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (parts.every((x) => argv.includes(x)) && alive(Number(p))) out.push(Number(p));
    } catch { /* gone */ }
  }
  return out;
}

/** A `web` service answering `text` over HTTP on its port 80, published on the host's `port`, and `extra` services. */
export function webStack(port: number, text: string, extra = ''): string {
  return `
services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports: ["${port}:80"]
${extra}`;
}

/** GET http://127.0.0.1:port/ (no keep-alive): the body, or undefined when it does not answer within 2 s. */
export function httpGet(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve(body));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

/** The tss- bridges of this namespace. */
export function bridges(): string[] {
  return execFileSync('ip', ['-o', 'link', 'show', 'type', 'bridge']).toString().split('\n').map((l) => l.split(': ')[1]?.split('@')[0] ?? '').filter((n) => n.startsWith('tss-'));
}
