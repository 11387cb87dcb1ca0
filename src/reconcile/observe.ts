// observe(): one IO pass over the engine collecting what exists for a project,
// found by label (and, for networks and volumes the stack names, by name).

import type { ContainerInfo, Engine, Fault, ImageInfo, NetworkInfo, VolumeInfo } from '../engine/api.js';
import { LABEL } from '../engine/api.js';

export interface ObservedState {
  project: string;
  /** The project's containers (one-off `run` containers excluded), sorted by name. */
  containers: ContainerInfo[];
  /** Networks found by label or by one of the names asked for, keyed by real name. */
  networks: Record<string, NetworkInfo>;
  /** Networks known to exist only because running containers are attached to them (no details). */
  inferredNetworks?: string[];
  volumes: Record<string, VolumeInfo>;
  /** Images by the reference asked for; undefined = not present locally. */
  images: Record<string, ImageInfo | undefined>;
  /** What the project's running containers need and the host lacks (a dead DNS server, a missing bridge…). */
  faults?: Fault[];
}

export interface ObserveRequest {
  networks?: string[];
  volumes?: string[];
  images?: string[];
  /** Include one-off (`run`) containers, for `down`. */
  oneoff?: boolean;
  /** May networks be inferred from running containers (see observe)? */
  inferNetworks?: boolean;
  /** Look at the real state behind the records the running containers rely on (engine.health). */
  health?: boolean;
}

export async function observe(engine: Engine, project: string, want: ObserveRequest = {}): Promise<ObservedState> {
  const filter = { [LABEL.project]: project };
  const containers = await engine.containers.list(filter);
  // A network a running container of the project is attached to exists: when
  // that proves every network asked for, the network engine is not consulted
  // (the common no-op `up`). Such networks are listed in `inferredNetworks`
  // without details; a caller that finds something to do observes again in
  // full (a changed subnet or `internal` always shows as a container change:
  // both are part of each container's config hash).
  const attached = new Map<string, string>();
  for (const c of containers) if (c.status === 'running') for (const [n, a] of Object.entries(c.addresses)) attached.set(n, a);
  // the networks of the project's containers that keep a sandbox (stopped ones too: an `up` that
  // starts them needs the bridge as much as running ones do)
  const used = new Set(attached.keys());
  for (const c of containers) for (const n of Object.keys(c.addresses)) used.add(n);
  const infer = !!want.inferNetworks && !!want.networks?.length && want.networks.every((n) => attached.has(n));
  const [nets, vols, namedNets, namedVols, imgs] = await Promise.all([
    infer ? Promise.resolve([]) : engine.networks.list(filter),
    engine.volumes.list(filter),
    infer ? Promise.resolve([]) : Promise.all((want.networks ?? []).map((n) => engine.networks.inspect(n))),
    Promise.all((want.volumes ?? []).map((n) => engine.volumes.inspect(n))),
    Promise.all((want.images ?? []).map(async (r) => [r, await engine.images.inspect(r)] as const)),
  ]);
  const networks: Record<string, NetworkInfo> = {};
  for (const n of [...nets, ...namedNets]) if (n) networks[n.name] = n;
  const inferredNetworks: string[] = [];
  if (infer) {
    for (const n of want.networks!) {
      networks[n] = { name: n, id: '', bridge: '', subnet: '', gateway: '', internal: false, labels: {} };
      inferredNetworks.push(n);
    }
  }
  const volumes: Record<string, VolumeInfo> = {};
  for (const v of [...vols, ...namedVols]) if (v) volumes[v.name] = v;
  const images: Record<string, ImageInfo | undefined> = {};
  for (const [r, i] of imgs) images[r] = i;
  // Records are not the host: a DNS server killed, a bridge deleted or a firewall reloaded leaves
  // them unchanged. Cheap checks (a pid, one link dump, one table listing) for what the project's
  // containers use; none when it has none on a network. The DNS server only while some of them run
  // (with none running it may be stopped, and rightly).
  // A check that cannot run (a host part missing) finds nothing: it never stops the plan.
  const faults = want.health && engine.health && used.size ? await engine.health.check([...used].sort(), { dns: attached.size > 0 }).catch(() => []) : [];
  return {
    project,
    containers: containers.filter((c) => want.oneoff || c.labels[LABEL.oneoff] !== 'True').sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    networks,
    inferredNetworks,
    volumes,
    images,
    faults,
  };
}
