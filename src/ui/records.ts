// The containers as `tsstack ui` sees them: read straight from the records the
// engine keeps (`<root>/containers/<id>/container.json`, the monitor's
// `state.json`, the log), with the engine's own derivation of a container's
// view (engine/runtime/container-info.ts), so the long-lived server never loads
// the engine. Read only: what changes a container runs in a child `tsstack`.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerInfo, Labels, LogLine, LogOptions, StateFingerprint } from '../engine/api.js';
import { containerInfoOf, monitorAlive } from '../engine/runtime/container-info.js';
import type { ContainerRecord } from '../engine/runtime/containers.js';
import { readLogs } from '../engine/runtime/logs.js';
import { racyFor } from '../engine/fingerprint.js';
import { stampsShowLaterChanges } from '../engine/stamp-grain.js';
import { inContainer, isGuard, isMonitor, processAlive, readMonitorState } from '../engine/runtime/monitor-client.js';
import type { HubEngine } from './hub.js';

const PROBES = { isMonitor, isGuard, processAlive, inContainer };
const FULL_ID = /^[0-9a-f]{64}$/;

function names(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => FULL_ID.test(n)).sort();
  } catch {
    return [];
  }
}

/** `/proc/PID/stat`'s state (live or not) and start time: a monitor killed or its pid reused changes it. */
function pidFact(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return `${f[0] === 'Z' || f[0] === 'X' ? 'dead' : 'live'}:${f[19]}`;
  } catch {
    return 'gone';
  }
}

/** The containers of the engine root `root` (its run root `runRoot`), read from their records. */
export function recordsSource(root: string, runRoot: string): HubEngine {
  const dir = join(root, 'containers');
  const runtimeRoot = join(runRoot, 'runtime');
  const record = (id: string): ContainerRecord | undefined => {
    try {
      return JSON.parse(readFileSync(join(dir, id, 'container.json'), 'utf8')) as ContainerRecord;
    } catch {
      return undefined; // being made or removed
    }
  };
  const state = (id: string) => readMonitorState(join(dir, id, 'state.json'));
  const all = (): ContainerRecord[] => names(dir).map(record).filter((r): r is ContainerRecord => r !== undefined);
  const find = (idOrName: string): ContainerRecord | undefined =>
    (FULL_ID.test(idOrName) ? record(idOrName) : undefined) ?? all().find((r) => r.name === idOrName);

  return {
    containers: {
      async list(filter: Labels = {}): Promise<ContainerInfo[]> {
        const want = Object.entries(filter);
        return all().filter((r) => want.every(([k, v]) => r.spec.labels[k] === v))
          .map((r) => containerInfoOf(r, () => state(r.id), PROBES, runtimeRoot))
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      },
      async inspect(idOrName: string): Promise<ContainerInfo | undefined> {
        const r = find(idOrName);
        return r && containerInfoOf(r, () => state(r.id), PROBES, runtimeRoot);
      },
      logs(id: string, opts: LogOptions): AsyncIterable<LogLine> {
        const r = find(id);
        if (!r) throw new Error(`no such container: ${id}`);
        if (r.spec.logDriver === 'none') throw new Error(`container ${r.name} has logging driver "none": its output is not kept`);
        return readLogs(join(dir, r.id, 'log.json'), opts, () => {
          const st = state(r.id);
          return !st || !monitorAlive(r, st, PROBES);
        });
      },
    },
    /**
     * What the hub's safety look compares: the stamps of every container's records and the liveness of
     * their monitors (given `pids`, those; else the ones the state files name). Only containers: the
     * networks and images of the engine's own fingerprint are not on the dashboard.
     */
    async stateFingerprint(opts?: { pids?: number[] }): Promise<StateFingerprint> {
      let digest = '';
      let newest = -Infinity;
      const now = Date.now();
      const ids = names(dir);
      for (const id of ids) {
        for (const f of ['container.json', 'state.json']) {
          try {
            const s = statSync(join(dir, id, f));
            digest += `${id}/${f} ${s.size}:${s.mtimeMs}:${s.ctimeMs}:${s.ino}\n`;
            newest = Math.max(newest, s.mtimeMs, s.ctimeMs);
          } catch {
            digest += `${id}/${f} -\n`;
          }
        }
      }
      const pids = opts?.pids ?? ids.map((id) => state(id)?.monitorPid).filter((p): p is number => !!p);
      for (const pid of pids) digest += `pid ${pid} ${pidFact(pid)}\n`;
      const racyForMs = racyFor(newest, now, () => stampsShowLaterChanges(dir));
      return { digest, pids, racy: racyForMs > 0, racyForMs };
    },
  };
}
