// Host devices in a container (compose `devices`, `device_cgroup_rules`): the
// host node is stat'ed for its type, numbers, mode and owner (as Docker does),
// and becomes an OCI `linux.devices` entry (the runtime makes the node) plus an
// allow rule of the device cgroup with the mapping's permissions.

import { statSync } from 'node:fs';
import { TsstackError } from '../../util/errors.js';
import type { ContainerCreateSpec } from '../api.js';

/** A device node for the OCI config: made at `path` in the container. */
export interface OciDevice {
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
  /** Allowed in the device cgroup: some of r, w, m. */
  access: string;
}

export type DeviceRule = NonNullable<ContainerCreateSpec['deviceCgroupRules']>[number];

/** Linux's dev_t split (glibc's gnu_dev_major/minor). */
export function devMajor(dev: number): number {
  const d = BigInt(dev);
  return Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn));
}
export function devMinor(dev: number): number {
  const d = BigInt(dev);
  return Number((d & 0xffn) | ((d >> 12n) & ~0xffn));
}

/** The host nodes of `devices`, stat'ed (symlinks followed); a missing one or a non-device is a TsstackError naming `who`. */
export function hostDevices(devices: ContainerCreateSpec['devices'], who: string): OciDevice[] {
  return (devices ?? []).map((d) => {
    let st;
    try {
      st = statSync(d.source);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new TsstackError('NOT_FOUND', `${who}: device ${d.source} ${code === 'ENOENT' ? 'does not exist on this host' : `cannot be read (${code})`}`, {
        hint: 'plug the device in or remove it from devices:',
      });
    }
    if (!st.isCharacterDevice() && !st.isBlockDevice()) {
      throw new TsstackError('USAGE', `${who}: ${d.source} is not a device node`, { hint: 'name a character or block device, e.g. /dev/ttyUSB0' });
    }
    return {
      path: d.target, type: st.isBlockDevice() ? 'b' : 'c', major: devMajor(st.rdev), minor: devMinor(st.rdev),
      fileMode: st.mode & 0o7777, uid: st.uid, gid: st.gid, access: d.permissions,
    };
  });
}

/** OCI `linux.devices` entries. */
export function ociDevices(devs: readonly OciDevice[]): object[] {
  return devs.map((d) => ({ path: d.path, type: d.type, major: d.major, minor: d.minor, fileMode: d.fileMode, uid: d.uid, gid: d.gid }));
}

/** Allow rules of `linux.resources.devices` for the devices and the extra rules (after the defaults: later rules win). */
export function deviceAllowRules(devs: readonly OciDevice[], rules: readonly DeviceRule[] = []): object[] {
  const out: object[] = devs.map((d) => ({ allow: true, type: d.type, major: d.major, minor: d.minor, access: d.access }));
  for (const r of rules) out.push({ allow: true, type: r.type, ...(r.major === undefined ? {} : { major: r.major }), ...(r.minor === undefined ? {} : { minor: r.minor }), access: r.access });
  return out;
}
