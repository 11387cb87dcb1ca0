// A container's public view (api.ts ContainerInfo) from its two records: container.json (what it
// is) and its monitor's state.json (how it runs), with the liveness of the processes they name.
// Kept apart from containers.ts and light on purpose: the dashboard's server (src/ui/records.ts)
// reads the records with it without loading the engine.

import type { ContainerInfo, ContainerStatus } from '../api.js';
import type { ContainerRecord } from './containers.js';
import type { MonitorDriver } from './drivers.js';
import type { MonitorState } from './monitor-client.js';
import { recordedInitStart } from './cgroup-stats.js';

/** The process checks the view needs (drivers.ts MonitorDriver's; monitor-client.ts has the real ones). */
export type LivenessProbes = Pick<MonitorDriver, 'isMonitor' | 'isGuard' | 'processAlive' | 'inContainer'>;

export function monitorAlive(rec: ContainerRecord, st: MonitorState | undefined, p: LivenessProbes): boolean {
  const pid = st?.monitorPid ?? rec.monitorPid;
  if (pid === undefined) return false;
  // an attached run is "alive" while its caller runs and has not recorded the exit
  return st?.attached ? st.status === 'running' && p.processAlive(pid) : p.isMonitor(pid);
}

/**
 * The container's process when it still runs although its monitor is gone (an admin's `kill -9` of the
 * monitor and its guard): nothing supervises it. Its pid is checked to be in the container's cgroup,
 * so a reused pid is never taken for it.
 */
export function orphanPid(rec: ContainerRecord, st: MonitorState | undefined, p: LivenessProbes, runtimeRoot: string): number | undefined {
  if (!st || st.attached || st.status !== 'running' || !st.pid) return undefined;
  if (st.guardPid && p.isGuard(st.guardPid)) return undefined; // its guard is ending it
  return p.inContainer(st.pid, rec.id, recordedInitStart(runtimeRoot, rec.id)) ? st.pid : undefined;
}

/** `runtimeRoot`: the runtime's state directory (`<runRoot>/runtime`), where it records its init's start time. */
export function containerInfo(rec: ContainerRecord, st: MonitorState | undefined, p: LivenessProbes, runtimeRoot: string): ContainerInfo {
  const alive = monitorAlive(rec, st, p);
  const orphan = !alive && orphanPid(rec, st, p, runtimeRoot) !== undefined;
  let status: ContainerStatus = 'created';
  if (st) {
    if (st.status === 'running' || st.status === 'restarting') status = alive ? st.status : orphan ? 'running' : 'dead';
    else if (st.status === 'dead') status = 'dead';
    else if (st.status === 'exited') status = 'exited';
    else status = alive ? 'running' : 'created';
  }
  const info: ContainerInfo = {
    id: rec.id,
    name: rec.name,
    image: rec.spec.image,
    imageId: rec.spec.imageId,
    labels: { ...rec.spec.labels },
    status,
    created: rec.created,
    restartCount: st?.restartCount ?? 0,
    addresses: Object.fromEntries(rec.endpoints.map((e) => [e.network, e.address])),
    ports: rec.ports,
  };
  if (st) {
    if (status === 'running' && st.pid) info.pid = st.pid;
    if (status === 'running' && st.health) info.health = st.health.status;
    if (status === 'running' && st.health?.log?.length) info.healthOutput = st.health.log[st.health.log.length - 1].output;
    if (status === 'exited' || status === 'dead' || status === 'restarting') info.exitCode = st.exitCode;
    // the monitor vanished without a word (a reboot, a crash of both it and its guard): exit unknown, as Docker's 255;
    // during a restart back-off nothing ran, and the last exit is known
    if (status === 'dead' && st.status !== 'dead' && st.status !== 'restarting') info.exitCode = 255;
    if (orphan) info.unsupervised = true;
    if (st.oomKilled) info.oomKilled = true;
    if (st.startedAt) info.startedAt = st.startedAt;
    if (st.finishedAt && status !== 'running') info.finishedAt = st.finishedAt;
  }
  return info;
}

/**
 * containerInfo with the state read by `read`, read a second time when it said running but the
 * monitor is gone. A monitor writes its last state (exited, with the code) and then exits: a state
 * read just before that write and a liveness check just after the exit made a one-shot container
 * that exited 0 look dead with exit 255 (seen once in cli/e2e, under load). The second read sees
 * the last state; a monitor that really vanished left "running" there, and is dead as before.
 */
export function containerInfoOf(rec: ContainerRecord, read: () => MonitorState | undefined, p: LivenessProbes, runtimeRoot: string): ContainerInfo {
  const st = read();
  const info = containerInfo(rec, st, p, runtimeRoot);
  if (info.status !== 'dead' || (st?.status !== 'running' && st?.status !== 'restarting')) return info;
  return containerInfo(rec, read(), p, runtimeRoot);
}
