// The rootless namespace's link to the host: pasta (pasta.ts) or, where passt is not
// installed, slirp4netns (slirp.ts), as preflight chose, and tsstack-portd (portd.ts) for
// the published TCP ports it serves from the host itself. One entry point for enter.ts.

import { ensurePasta, pastaPids, stopPasta, type Published } from './pasta.js';
import type { NetDriver } from './preflight.js';
import { ensureSlirp, slirpPids, stopSlirp } from './slirp.js';
import { portdPid, stopPortd } from './portd.js';

export { recordedPorts } from './pasta.js';

/** Makes `driver` forward exactly `ports` for `holder` (the other driver's process, if any, ends); warnings for what it cannot. */
export async function ensureForwarding(runRoot: string, holder: number, ports: readonly Published[], driver: NetDriver): Promise<string[]> {
  if (driver === 'slirp4netns') {
    stopPasta(runRoot);
    return await ensureSlirp(runRoot, holder, ports);
  }
  stopSlirp(runRoot);
  return ensurePasta(runRoot, holder, ports);
}

/** The forwarders running for this run root (they are in the holder's user namespace, but hold nothing of the engine's). */
export function forwarderPids(runRoot: string): number[] {
  const portd = portdPid(runRoot);
  return [...pastaPids(runRoot), ...slirpPids(runRoot), ...(portd ? [portd] : [])];
}

export function stopForwarding(runRoot: string): void {
  stopPasta(runRoot);
  stopSlirp(runRoot);
  stopPortd(runRoot);
}
