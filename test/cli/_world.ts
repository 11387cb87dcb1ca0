// A temporary engine root and a CLI runner for end-to-end tests with the real engine.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/context.js';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';
import { missing, type Need } from '../helpers/skip.js';

export interface Run { code: number; out: string; err: string }

/** What the CLI end-to-end tests need: `needs(...E2E)` declares them, skipped with the reason when one is missing. */
export const E2E: Need[] = ['root', 'busybox', 'tsstack-runtime'];
export const canRun = !missing(...E2E);

/** printenv for busybox (POSIX sh): all variables, or the named ones that are set. */
const PRINTENV = String.raw`#!/bin/sh
[ $# -eq 0 ] && exec env
rc=1
for v in "$@"; do
  if env | grep -q "^$v="; then env | sed -n "s/^$v=//p"; rc=0; fi
done
exit $rc
`;

export interface World {
  base: string;
  root: string;
  dir: string;
  run(...argv: string[]): Promise<Run>;
  runEnv(env: Record<string, string | undefined>, ...argv: string[]): Promise<Run>;
  busybox(...names: string[]): Promise<void>;
  dispose(): void;
}

export function world(): World {
  const base = mkdtempSync(join(tmpdir(), 'tsstack-e2e-'));
  const root = join(base, 'root');
  const dir = join(base, 'proj');
  mkdirSync(dir);
  const runEnv = async (extra: Record<string, string | undefined>, ...argv: string[]): Promise<Run> => {
    const out: string[] = [];
    const err: string[] = [];
    const env: NodeJS.ProcessEnv = { ...process.env, TSSTACK_ROOT: root, TSSTACK_RUN_ROOT: join(root, 'run'), ...extra };
    for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
    const io: Io = { out: (s) => out.push(s.replace(/\n$/, '')), err: (s) => err.push(s.replace(/\n$/, '')), tty: false, env, cwd: dir };
    const code = await main(argv, io);
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  return {
    base, root, dir,
    run: (...argv) => runEnv({}, ...argv),
    runEnv,
    async busybox(...names: string[]) {
      // busybox-static as alpine/bash/nginx stand-in: default command `sh` like
      // alpine's, plus what those images have and busybox-static lacks here
      // (a `printenv`, /var/run -> /run); `nginx:*` serves /www on port 80
      // with busybox httpd.
      const fs = join(base, 'bb');
      makeBusyboxRootfs(fs);
      writeFileSync(join(fs, 'bin/printenv'), PRINTENV, { mode: 0o755 });
      symlinkSync('../run', join(fs, 'var/run'));
      mkdirSync(join(fs, 'www'));
      writeFileSync(join(fs, 'www/index.html'), '<h1>Welcome to nginx!</h1>\n');
      const { ImageStore } = await import('../../src/engine/image/store.js');
      const store = new ImageStore({ root });
      const env = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];
      const plain = (names.length ? names : ['busybox:latest']).filter((n) => !n.startsWith('nginx'));
      const nginx = names.filter((n) => n.startsWith('nginx'));
      if (plain.length) {
        await store.importRootfs(fs, plain[0], { config: { Cmd: ['sh'], Env: env } });
        for (const n of plain.slice(1)) await store.tag(plain[0], n);
      }
      if (nginx.length) {
        await store.importRootfs(fs, nginx[0], { config: { Cmd: ['httpd', '-f', '-p', '80', '-h', '/www'], Env: env, ExposedPorts: { '80/tcp': {} } } });
        for (const n of nginx.slice(1)) await store.tag(nginx[0], n);
      }
      rmSync(fs, { recursive: true, force: true });
    },
    dispose() {
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** This process's ref'd timers: what keeps an ava worker alive after its last test ("Failed to exit"). */
export const refTimers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

/**
 * How many ref'd timers stay above `baseline` once those still ending by themselves have had `ms` to
 * fire. A poll loop left running (a wait on a container that is gone) keeps one for ever; serial tests only.
 */
export async function timersAbove(baseline: number, ms = 3000): Promise<number> {
  for (const end = Date.now() + ms; ; await new Promise((r) => setTimeout(r, 50))) {
    const over = refTimers() - baseline;
    if (over <= 0 || Date.now() >= end) return Math.max(0, over);
  }
}

/** What a stack may leave on the host: mounts under root, links, nft tables, processes naming the root. */
export function leftovers(root: string): string[] {
  const out: string[] = [];
  for (const l of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) if (l.includes(root)) out.push(`mount: ${l.split(' ')[4]}`);
  const links = execFileSync('ip', ['-o', 'link', 'show']).toString().split('\n').filter((l) => l.trim() && !/: lo:/.test(l));
  out.push(...links.map((l) => `link: ${l.split(':')[1]?.trim()}`));
  try {
    const tables = execFileSync('/usr/sbin/nft', ['list', 'tables']).toString().trim();
    if (tables) out.push(...tables.split('\n').map((t) => `nft: ${t}`));
  } catch { /* nft absent */ }
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(root)) out.push(`process ${pid}: ${cmd.slice(0, 120)}`);
    } catch { /* gone */ }
  }
  return out;
}

/**
 * The CLI on one stack file and project (TSSTACK_PROJECT_NAME unset): `T(...argv)`, the project's
 * container ids by name, and `logsUntil` — a service's logs once they match (polled up to ~5 s).
 */
export function projectCli(w: World, file: string, project: string) {
  const T = (...argv: string[]) => w.runEnv({ TSSTACK_PROJECT_NAME: undefined }, '-f', file, '-p', project, ...argv);
  const ids = async (): Promise<Record<string, string>> =>
    Object.fromEntries((JSON.parse((await T('ps', '-a', '--format', 'json')).out || '[]') as { Name: string; ID: string }[]).map((c) => [c.Name, c.ID]));
  const logsUntil = async (service: string, want: RegExp, ...flags: string[]): Promise<string> => {
    for (let i = 0; i < 100; i++) {
      const out = (await T('logs', ...flags, service)).out;
      if (want.test(out)) return out;
      await new Promise((r) => setTimeout(r, 50));
    }
    return (await T('logs', ...flags, service)).out;
  };
  return { T, ids, logsUntil };
}

/** The end of an e2e scenario: nothing of the world may remain; its temp dir goes only when clean (else it is kept to look at). */
export function assertNothingLeft(t: { deepEqual: (a: unknown, b: unknown, m?: string) => unknown }, w: World): void {
  const left = leftovers(w.root);
  if (!left.length) w.dispose();
  t.deepEqual(left, [], 'nothing left behind');
}
