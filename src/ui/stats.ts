// The charts' figures, read straight from each running container's cgroup and
// /proc: the cgroup directories are found once per container process and kept,
// and CPU is the usage between two samples (the engine's `stats` sleeps 100 ms
// between two reads of every container instead, and re-reads its records).

import type { ContainerInfo } from '../engine/api.js';
import { cgroupPaths, netBytes, readRawStats, type CgroupPaths } from '../engine/runtime/cgroup-stats.js';
import type { StatsSample } from './hub.js';

interface Seen { pid: number; cg: CgroupPaths; cpuNs: number; at: bigint }

export class CgroupSampler {
  private seen = new Map<string, Seen>();

  /** Forgets the last readings (a new run of samples starts; a CPU figure over the gap would mislead). */
  reset(): void {
    this.seen.clear();
  }

  /**
   * A sample of each running container read before (by this sampler, since the last reset): the first
   * reading of one only sets its CPU baseline. Containers gone or stopped are forgotten.
   */
  sample(containers: ContainerInfo[], t = Date.now()): Record<string, StatsSample> {
    const out: Record<string, StatsSample> = {};
    const live = new Set<string>();
    for (const c of containers) {
      if (c.status !== 'running' || !c.pid) continue;
      live.add(c.id);
      let s = this.seen.get(c.id);
      if (!s || s.pid !== c.pid) {
        const cg = cgroupPaths(c.pid, undefined, c.id);
        if (!cg) continue;
        s = { pid: c.pid, cg, cpuNs: -1, at: 0n };
        this.seen.set(c.id, s);
      }
      const raw = readRawStats(s.cg, c.pid);
      const at = process.hrtime.bigint();
      const wall = Number(at - s.at);
      const first = s.cpuNs < 0;
      const cpu = !first && wall > 0 ? Math.max(0, ((raw.cpuNs - s.cpuNs) / wall) * 100) : 0;
      s.cpuNs = raw.cpuNs;
      s.at = at;
      if (first) continue;
      const net = netBytes(c.pid);
      const sample: StatsSample = { t, cpu, mem: raw.memoryUsage, pids: raw.pids, rx: net.rx, tx: net.tx };
      if (raw.memoryLimit !== undefined) sample.memLimit = raw.memoryLimit;
      out[c.id] = sample;
    }
    for (const id of [...this.seen.keys()]) if (!live.has(id)) this.seen.delete(id);
    return out;
  }
}
