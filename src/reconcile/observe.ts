// observe(): one IO pass over the engine collecting what exists for a project,
// found by label (and, for networks and volumes the stack names, by name).

import type { ContainerInfo, Engine, ImageInfo, NetworkInfo, VolumeInfo } from '../engine/api.js';
import { LABEL } from '../engine/api.js';

export interface ObservedState {
  project: string;
  /** The project's containers (one-off `run` containers excluded), sorted by name. */
  containers: ContainerInfo[];
  /** Networks found by label or by one of the names asked for, keyed by real name. */
  networks: Record<string, NetworkInfo>;
  volumes: Record<string, VolumeInfo>;
  /** Images by the reference asked for; undefined = not present locally. */
  images: Record<string, ImageInfo | undefined>;
}

export interface ObserveRequest {
  networks?: string[];
  volumes?: string[];
  images?: string[];
  /** Include one-off (`run`) containers, for `down`. */
  oneoff?: boolean;
}

export async function observe(engine: Engine, project: string, want: ObserveRequest = {}): Promise<ObservedState> {
  const filter = { [LABEL.project]: project };
  const [containers, nets, vols, namedNets, namedVols, imgs] = await Promise.all([
    engine.containers.list(filter),
    engine.networks.list(filter),
    engine.volumes.list(filter),
    Promise.all((want.networks ?? []).map((n) => engine.networks.inspect(n))),
    Promise.all((want.volumes ?? []).map((n) => engine.volumes.inspect(n))),
    Promise.all((want.images ?? []).map(async (r) => [r, await engine.images.inspect(r)] as const)),
  ]);
  const networks: Record<string, NetworkInfo> = {};
  for (const n of [...nets, ...namedNets]) if (n) networks[n.name] = n;
  const volumes: Record<string, VolumeInfo> = {};
  for (const v of [...vols, ...namedVols]) if (v) volumes[v.name] = v;
  const images: Record<string, ImageInfo | undefined> = {};
  for (const [r, i] of imgs) images[r] = i;
  return {
    project,
    containers: containers.filter((c) => want.oneoff || c.labels[LABEL.oneoff] !== 'True').sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    networks,
    volumes,
    images,
  };
}
