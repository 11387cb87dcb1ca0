// Shared pieces of the network integration tests. Each test calls `freshHost()`
// first: the test process's main thread moves into a new, empty network
// namespace (its own links, routes and nftables), so tests never see each
// other's bridges or tables, nor those of other test files.

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRtNetlink } from 'netlink';
import { CLONE_NEWNET, check, getLibc } from '../../src/engine/network/libc.js';
import { NetworkManager } from '../../src/engine/network/index.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The nft CLI by absolute path: under npx, `nft` is @vercel/nft's binary. */
export const NFT = '/usr/sbin/nft';
export const ECHO = join(here, 'fixtures', 'echo.js');

export async function freshHost(): Promise<void> {
  check(getLibc().unshare(CLONE_NEWNET), 'unshare(CLONE_NEWNET)');
  const s = createRtNetlink();
  try {
    const lo = (await s.getLinks()).find((l) => l.attrs.ifname === 'lo')!;
    await s.setLink({ index: lo.data.index, change: { up: true }, flags: { up: true } });
  } finally {
    s.socket.close();
  }
}

export interface Env {
  dir: string;
  m: NetworkManager;
  children: ChildProcess[];
}

export async function setup(): Promise<Env> {
  await freshHost();
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-net-'));
  const m = new NetworkManager({ root: join(dir, 'lib'), runRoot: join(dir, 'run') });
  return { dir, m, children: [] };
}

/**
 * Kills the test's children (by pid), removes whatever a failed test left
 * (sandboxes, networks; best effort), closes the manager, removes the temp dir.
 */
export async function teardown(env: Env): Promise<void> {
  for (const c of env.children) if (c.exitCode === null && c.pid) process.kill(c.pid, 'SIGKILL');
  const sandboxes = join(env.dir, 'run', 'netns');
  const ids = existsSync(sandboxes) ? readdirSync(sandboxes) : [];
  for (const id of ids) await env.m.removeSandbox(id).catch(() => undefined);
  for (const n of await env.m.list().catch(() => [])) await env.m.remove(n.name).catch(() => undefined);
  await env.m.close();
  rmSync(env.dir, { recursive: true, force: true });
}

/** Starts an echo server inside a sandbox (or on the host when path is undefined); resolves once it listens. */
export function serve(env: Env, path: string | undefined, proto: 'tcp' | 'udp', port: number, name: string): Promise<void> {
  const argv = path ? ['--net=' + path, process.execPath, ECHO, 'serve', proto, String(port), name] : [ECHO, 'serve', proto, String(port), name];
  const c = spawn(path ? 'nsenter' : process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  env.children.push(c);
  return new Promise((resolve, reject) => {
    c.stdout!.once('data', () => resolve());
    c.once('error', reject);
    c.once('exit', (code) => reject(new Error(`echo server exited with ${code}`)));
  });
}

/** Asks an echo server from inside a sandbox (or the host); resolves with the answer or `ERR …`. Expected failures pass a short timeout. */
export function ask(path: string | undefined, proto: 'tcp' | 'udp', host: string, port: number, timeoutMs = 3000, sourcePort?: number): Promise<string> {
  const args = [ECHO, 'ask', proto, host, String(port), String(timeoutMs), ...(sourcePort ? [String(sourcePort)] : [])];
  const argv = path ? ['--net=' + path, process.execPath, ...args] : args;
  return new Promise((resolve) => {
    const c = spawn(path ? 'nsenter' : process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout!.on('data', (d) => (out += d));
    c.stderr!.on('data', (d) => (err += d));
    c.on('error', (e) => resolve(`ERR spawn: ${e.message}`));
    c.on('exit', (code) => resolve(code === 0 ? out.trim() : `ERR ${err.trim()}`));
  });
}

/** A spare interface pair `name`/`name`p, up, with `cidr` on the first end (dummy links need a module the test host may lack). */
export function addTestLink(name: string, cidr: string): void {
  sh('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`]);
  sh('ip', ['addr', 'add', cidr, 'dev', name]);
  sh('ip', ['link', 'set', name, 'up']);
  sh('ip', ['link', 'set', `${name}p`, 'up']);
}

/**
 * Another host: a namespace (pinned like a sandbox, under id `outsider`) wired to
 * this one by the veth `testout` (198.51.100.1 here, 198.51.100.2 there), with a
 * route back to every tsstack subnet so un-masqueraded traffic could answer.
 */
export async function outsideHost(env: Env): Promise<string> {
  const { path } = await env.m.createSandbox('outsider');
  sh('ip', ['link', 'add', 'testout', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', path]);
  sh('ip', ['addr', 'add', '198.51.100.1/24', 'dev', 'testout']);
  sh('ip', ['link', 'set', 'testout', 'up']);
  sh('nsenter', ['--net=' + path, 'ip', 'addr', 'add', '198.51.100.2/24', 'dev', 'eth0']);
  sh('nsenter', ['--net=' + path, 'ip', 'link', 'set', 'eth0', 'up']);
  sh('nsenter', ['--net=' + path, 'ip', 'route', 'add', '10.89.0.0/16', 'via', '198.51.100.1']);
  return path;
}

/** Runs a command in this test's namespace (setup of the test itself, never the engine's work). */
export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8' });
}

export async function linkNames(): Promise<string[]> {
  const s = createRtNetlink();
  try {
    return (await s.getLinks()).map((l) => l.attrs.ifname ?? '').sort();
  } finally {
    s.socket.close();
  }
}

export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p.startsWith(dir));
}

export function nftTables(): string[] {
  const text = sh(NFT, ['-j', 'list', 'ruleset']).trim();
  if (!text) return [];
  const out = JSON.parse(text) as { nftables: Record<string, { family?: string; name?: string }>[] };
  return out.nftables.filter((o) => o.table).map((o) => `${o.table!.family} ${o.table!.name}`);
}

/** Everything that must be gone once every network and sandbox is removed. */
export async function leftovers(env: Env): Promise<string[]> {
  const out: string[] = [];
  const links = (await linkNames()).filter((n) => n !== 'lo' && !n.startsWith('test'));
  if (links.length) out.push(`links: ${links.join(', ')}`);
  const mounts = mountsUnder(env.dir);
  if (mounts.length) out.push(`mounts: ${mounts.join(', ')}`);
  const tables = nftTables();
  if (tables.length) out.push(`nft tables: ${tables.join(', ')}`);
  const netdir = join(env.dir, 'lib', 'networks');
  if (existsSync(netdir)) {
    const files = sh('ls', ['-A', netdir]).split('\n').filter((f) => f && f !== '.lock');
    if (files.length) out.push(`state files: ${files.join(', ')}`);
  }
  const sandboxes = join(env.dir, 'run', 'netns');
  if (existsSync(sandboxes)) {
    const files = sh('ls', ['-A', sandboxes]).split('\n').filter(Boolean);
    if (files.length) out.push(`sandbox files: ${files.join(', ')}`);
  }
  return out;
}
