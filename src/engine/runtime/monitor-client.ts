// Talking to tsstack-monitor: start one for a bundle (it detaches and outlives
// us), read its state file, ask it to stop, wait for the container's exit.

import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { basename, dirname } from 'node:path';
import { TsstackError } from '../../util/errors.js';
import type { HealthStatus } from '../api.js';
import { procStartTime } from './cgroup-stats.js';
import { runLight, type LightResult } from './light-spawn.js';
import { DirWake } from '../../util/dir-wake.js';
import { readOr } from '../../util/read-or.js';

export interface MonitorOptions {
  monitor: string;
  runtime: string;
  runtimeRoot: string;
  id: string;
  bundle: string;
  statePath: string;
  logPath: string;
  socketPath: string;
  pidPath?: string;
  logMaxSize?: number;
  logMaxFiles?: number;
  tty?: boolean;
  /** Keep the container's stdin open (compose `stdin_open`): a program reading it waits instead of seeing EOF. */
  stdinOpen?: boolean;
  restart?: string;
  stopSignal?: string;
  stopTimeoutMs?: number;
  /** Exec-form argv of the probe; absent = no health check. */
  health?: { argv: string[]; intervalMs?: number; timeoutMs?: number; retries?: number; startPeriodMs?: number; startIntervalMs?: number };
}

export interface HealthResult { start: string; end: string; exitCode: number; output: string }

/** The monitor's state file (keys as it writes them). */
export interface MonitorState {
  status: 'created' | 'running' | 'restarting' | 'exited' | 'dead';
  pid: number;
  exitCode: number;
  signal: number;
  oomKilled: boolean;
  restartCount: number;
  startedAt?: string;
  finishedAt?: string;
  monitorPid: number;
  /** The monitor's guard: while it lives, a container whose monitor died is being ended by it. */
  guardPid?: number;
  error?: string;
  health?: { status: HealthStatus; failingStreak: number; log: HealthResult[] };
  /** Written by Containers.runAttached: `monitorPid` is the attached caller, not a tsstack-monitor. */
  attached?: boolean;
}

export function monitorArgs(o: MonitorOptions): string[] {
  const a = ['--runtime', o.runtime, '--runtime-root', o.runtimeRoot, '--id', o.id, '--bundle', o.bundle,
    '--state', o.statePath, '--log', o.logPath, '--socket', o.socketPath];
  if (o.pidPath) a.push('--pid-file', o.pidPath);
  if (o.logMaxSize !== undefined) a.push('--log-max-size', String(o.logMaxSize));
  if (o.logMaxFiles !== undefined) a.push('--log-max-files', String(o.logMaxFiles));
  if (o.tty) a.push('--tty');
  if (o.stdinOpen) a.push('--stdin-open');
  if (o.restart) a.push('--restart', o.restart);
  if (o.stopSignal) a.push('--stop-signal', o.stopSignal);
  if (o.stopTimeoutMs !== undefined) a.push('--stop-timeout', String(Math.max(0, Math.round(o.stopTimeoutMs))));
  const h = o.health;
  if (h) {
    for (const x of h.argv) a.push(`--health-cmd=${x}`);
    if (h.intervalMs) a.push('--health-interval', String(Math.round(h.intervalMs)));
    if (h.timeoutMs) a.push('--health-timeout', String(Math.round(h.timeoutMs)));
    if (h.retries) a.push('--health-retries', String(h.retries));
    if (h.startPeriodMs) a.push('--health-start-period', String(Math.round(h.startPeriodMs)));
    if (h.startIntervalMs) a.push('--health-start-interval', String(Math.round(h.startIntervalMs)));
  }
  return a;
}

/**
 * Starts a monitor; resolves with its pid once the container runs. A start failure is a RUNTIME error with the runtime's message.
 * Started by posix_spawn (light-spawn.ts), not a fork of Node: `up` starts many at once.
 */
export async function startMonitor(o: MonitorOptions): Promise<number> {
  let r: LightResult;
  try {
    r = await runLight(o.monitor, monitorArgs(o));
  } catch (e) {
    throw new TsstackError('HOST', `cannot run ${o.monitor}: ${(e as Error).message}`, { cause: e });
  }
  // it prints its pid when the container runs, a message otherwise (the code is unknown when another reaped it)
  const out = r.output.trim();
  if (r.code === 0 || (r.code === undefined && /^\d+$/.test(out))) return Number(out);
  const msg = out.replace(/^tsstack-monitor: /, '') || `monitor exited with ${r.code ?? 'an unknown status'}`;
  throw new TsstackError('RUNTIME', `container ${o.id.slice(0, 12)} could not be started: ${msg}`, {
    hint: 'check the command, the image and the container config; `tsstack logs` shows what it printed',
  });
}

export function readMonitorState(statePath: string): MonitorState | undefined {
  // (a create and a start read it before the monitor has written it: readOr makes no exception of that)
  const text = readOr(statePath);
  try {
    return text === undefined ? undefined : JSON.parse(text) as MonitorState;
  } catch {
    return undefined;
  }
}

/** True while the process exists and is not a zombie. */
export function processAlive(pid: number): boolean {
  if (!pid || pid <= 0) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** True when the pid is a tsstack monitor (guards against pid reuse after a reboot or crash). */
export function isMonitor(pid: number): boolean {
  if (!processAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'tsstack-mon';
  } catch {
    return false;
  }
}

/** Whether `pid` is a live tsstack monitor guard. */
export function isGuard(pid: number): boolean {
  if (!processAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'tsstack-guard';
  } catch {
    return false;
  }
}

/**
 * Whether `pid` lives and is container `id`'s: in its cgroup, or (a container without a cgroup of its
 * own, rootless) started at `startTime`, field 22 of /proc/<pid>/stat as the runtime recorded it.
 */
export function inContainer(pid: number, id: string, startTime?: string): boolean {
  if (!processAlive(pid)) return false;
  try {
    if (readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(`/${id}`)) return true;
    return startTime !== undefined && procStartTime(readFileSync(`/proc/${pid}/stat`, 'utf8')) === startTime;
  } catch {
    return false;
  }
}

/** Sends one control line; resolves with the reply (`ok` or `error …`). */
export function sendControl(socketPath: string, line: string, timeoutMs = 15000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(socketPath);
    let reply = '';
    // the monitor answers at once (it serves clients from its poll loop); the timeout only guards against a hung one
    const timer = setTimeout(() => { s.destroy(); reject(new TsstackError('RUNTIME', `monitor at ${socketPath} did not answer "${line}"`, { hint: 'the monitor may be hung: kill it (its guard removes the container)' })); }, timeoutMs);
    s.write(`${line}\n`); // queued until connected: no extra turn of the event loop
    s.on('data', (d) => { reply += d.toString(); });
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
    s.on('close', () => { clearTimeout(timer); resolve(reply.trim()); });
  });
}

/** Asks the monitor to stop the container (stop signal, SIGKILL after `timeoutMs`); falls back to SIGTERM to the monitor. */
export async function requestStop(socketPath: string, monitorPid: number, timeoutMs?: number): Promise<void> {
  try {
    await sendControl(socketPath, timeoutMs === undefined ? 'stop' : `stop ${Math.max(0, Math.round(timeoutMs))}`);
  } catch {
    if (isMonitor(monitorPid)) process.kill(monitorPid, 'SIGTERM');
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until the container has exited for good (or the monitor is gone); returns the last state.
 * Woken by the monitor's writes of its state file (inotify): the one that says `exited` is seen at
 * once, then only the monitor's own exit is awaited, a millisecond at a time (it follows the write).
 * The poll stays as the safety net (a monitor killed outright writes nothing, no inotify here): its
 * interval starts at 2 ms and grows by half each time up to `pollMs` (50), so a `down` waiting for
 * many containers at once does not keep reading their state files.
 */
export async function waitForExit(statePath: string, monitorPid: number, opts: { timeoutMs?: number; pollMs?: number } = {}): Promise<MonitorState | undefined> {
  const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
  const max = opts.pollMs ?? 50;
  const wake = new DirWake(dirname(statePath), basename(statePath));
  let quick = 0;
  try {
    for (let step = Math.min(2, max); ; step = Math.min(max, step * 1.5)) {
      wake.changed = false;
      const st = readMonitorState(statePath);
      const exited = !!st && (st.status === 'exited' || st.status === 'dead');
      if (exited && !processAlive(monitorPid)) return st;
      if (!processAlive(monitorPid)) return readMonitorState(statePath);
      if (Date.now() > deadline) return st;
      // (a monitor that stays, to restart the container later, gets the slower wait after ~50 ms)
      if (exited && quick++ < 50) await sleep(1);
      else await wake.wait(step);
    }
  } finally {
    wake.close();
  }
}
