// Test images from local material only: a busybox image imported from the
// busybox-static rootfs (test/helpers/rootfs.ts) into a given ImageStore.
import type { ImageInfo } from '../../src/engine/api.js';
import type { ImageStore } from '../../src/engine/image/store.js';
import { makeBusyboxRootfs, makeTemp, rmTemp } from './rootfs.js';

/** Imports a busybox root filesystem as a one-layer image named `name`; default command `sh`. */
export async function makeBusyboxImage(store: ImageStore, name = 'busybox:latest'): Promise<ImageInfo> {
  const dir = makeTemp('tsstack-busybox-');
  try {
    makeBusyboxRootfs(dir);
    return await store.importRootfs(dir, name, {
      config: { Cmd: ['sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    });
  } finally {
    rmTemp(dir);
  }
}
