// What the builder needs from the image store (src/engine/image/store.ts
// `ImageStore` satisfies it structurally): resolve a base image, read its
// config and layers, mount an overlay of a layer chain with a fresh upper
// dir, add a layer on top of a chain, and commit config + manifest + names.

import type { Readable } from 'node:stream';
import type { ImageInfo, PullPolicy } from '../../api.js';
import type { ImageConfig } from '../oci.js';
import type { LayerRef } from '../records.js';

/** A stored, unpacked layer and where it sits in its chain. */
export interface BuildLayer extends LayerRef { chainId: string }

export interface BuildStore {
  readonly root: string;
  /** Where RUN steps' network sandboxes are pinned (default `<root>/run`). */
  readonly runRoot?: string;
  ensure(ref: string, policy: PullPolicy, onProgress?: (line: string) => void): Promise<ImageInfo>;
  /** Full OCI config of a stored image. */
  config(id: string): Promise<ImageConfig>;
  record(id: string): { layers: LayerRef[]; chainIds: string[] } | undefined;
  /** Stores an (uncompressed) layer tar stream on top of `parentChainId` and unpacks it. */
  addLayer(source: string | Readable, parentChainId?: string): Promise<BuildLayer>;
  commit(req: { config: Omit<ImageConfig, 'rootfs'>; layers: LayerRef[]; names: string[] }): Promise<ImageInfo>;
  /** Overlay of `chain` (bottom first) at `<dir>/rootfs` with `<dir>/upper` and `<dir>/work`. */
  mountLayers(chain: string[], dir: string): Promise<string>;
  unmountRootfs(dir: string): Promise<void>;
  readonly layers: { has(chainId: string): boolean };
  /** Protects blobs/chains a build is still using from a concurrent prune (optional). */
  lease?(items: { blobs?: string[]; chainIds?: string[] }): Promise<{ release: () => Promise<void> }>;
  readonly content: { has(digest: string): boolean };
}
