// Published TCP ports of rootless containers served from the host's network namespace by
// tsstack-portd (native/portd/main.c says how): a container's server listens on the host
// itself, so the published path costs what a local connection costs, where a forwarder
// (pasta, slirp4netns) carries every byte through a user-space hop.
//
// The CLI outside the namespace starts one portd per run root (like the forwarders, it is
// the user's process in the host's namespaces) and names its socket to the command inside
// (PORTD_ENV); the engine then writes the socket and what the container publishes into
// the container's bundle (annotations tsstack-runtime reads), and the ports portd serves
// are not given to the forwarder. UDP ports, bindings on an IPv6 host address, a kernel
// before 5.9 (no SECCOMP_IOCTL_NOTIF_ADDFD) or TSSTACK_ROOTLESS_PORTS=forward: the
// forwarder, as before.

import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { isIPv4 } from 'node:net';
import { nativeBinary } from '../native-paths.js';
import type { PublishedPort } from '../api.js';
import type { Published } from './pasta.js';
import { pause } from './pasta.js';
import { aliveAs } from './alive.js';

/** Set for the command inside the namespace: portd's socket. */
export const PORTD_ENV = 'TSSTACK_PORTD';
export const SOCKET_ANNOTATION = 'org.tsstack.portd.socket';
export const META_ANNOTATION = 'org.tsstack.portd.meta';

const SOCK = 'portd.sock';
const PID = 'portd.pid';
const LOG = 'portd.log';

/** Whether a kernel release (`uname -r`) has what portd needs: seccomp user notification with ADDFD (5.9). */
export function kernelCan(rel: string): boolean {
  const m = /^(\d+)\.(\d+)/.exec(rel);
  if (!m) return false;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj > 5 || (maj === 5 && min >= 9);
}

/** Why published ports go through the forwarder instead, or undefined when portd serves them. */
export function portdOff(env: NodeJS.ProcessEnv, rel = release()): string | undefined {
  const mode = env.TSSTACK_ROOTLESS_PORTS;
  if (mode === 'forward') return 'TSSTACK_ROOTLESS_PORTS=forward';
  if (!kernelCan(rel)) return `this kernel (${rel}) has no seccomp user notification with ADDFD (Linux 5.9)`;
  return undefined;
}

/** A binding portd serves: TCP on every address or on an IPv4 one. */
export function servedByPortd(p: { hostIp?: string; protocol: string }): boolean {
  return p.protocol === 'tcp' && (!p.hostIp || p.hostIp === '0.0.0.0' || isIPv4(p.hostIp));
}

/** What the forwarder still carries when portd serves the rest. */
export function forwardedPorts(ports: readonly Published[], portd: boolean): Published[] {
  return portd ? ports.filter((p) => !servedByPortd(p)) : [...ports];
}

/** The metadata tsstack-runtime hands portd with a container's filter (parsed by portd's parse_meta). */
export function portdMeta(project: string, ports: readonly PublishedPort[]): string {
  const lines = [`project=${project.replace(/\n/g, '')}`];
  for (const p of ports) {
    if (!servedByPortd(p) || !p.hostPort) continue;
    const any = !p.hostIp || p.hostIp === '0.0.0.0';
    lines.push(`pub=${p.containerPort} ${any ? '*' : p.hostIp} ${p.hostPort}`);
  }
  return lines.join('\n') + '\n';
}

/** The bundle annotations for a container of `project` when the command runs with portd (else none). */
export function portdAnnotations(env: NodeJS.ProcessEnv, project: string | undefined, ports: readonly PublishedPort[]): Record<string, string> | undefined {
  const sock = env[PORTD_ENV];
  if (!sock || !project) return undefined;
  return { [SOCKET_ANNOTATION]: sock, [META_ANNOTATION]: portdMeta(project, ports) };
}

const alive = (pid: number) => aliveAs(pid, /^tsstack-portd$/);

export function portdPid(runRoot: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(runRoot, PID), 'utf8').trim());
    return alive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts portd for this run root unless it runs; its socket, and whether one had been started
 * before and is gone (killed: the containers it served lost their filter's other end).
 */
export function ensurePortd(runRoot: string): { sock: string; lost: boolean } {
  const sock = join(runRoot, SOCK);
  if (portdPid(runRoot) && existsSync(sock)) return { sock, lost: false };
  const lost = existsSync(join(runRoot, PID));
  stopPortd(runRoot);
  const log = openSync(join(runRoot, LOG), 'a', 0o600);
  const c = spawn(nativeBinary('portd'), [sock], { detached: true, stdio: ['ignore', 'ignore', log], cwd: '/' });
  closeSync(log);
  c.unref();
  writeFileSync(join(runRoot, PID), `${c.pid}\n`, { mode: 0o600 });
  for (let i = 0; i < 400 && !existsSync(sock); i++) pause(5);
  return { sock, lost };
}

/** Ends portd (containers still using it lose their published ports: it is ended with the namespace). */
export function stopPortd(runRoot: string): void {
  const pid = portdPid(runRoot);
  if (pid) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch { /* gone */ }
    for (let i = 0; alive(pid) && i < 200; i++) pause(5);
  }
  for (const f of [SOCK, PID, LOG]) rmSync(join(runRoot, f), { force: true });
}
