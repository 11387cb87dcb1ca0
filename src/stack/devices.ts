// Service keys `devices` and `device_cgroup_rules`: the short and long forms
// of a device mapping, and Docker's cgroup rule syntax (`c 1:3 rwm`). Pure:
// whether the host device exists is checked by reconcile/ (before `up`
// changes anything) and the engine (which stats it for the OCI config).

import type { DeviceCgroupRule, DeviceMapping, ServiceSpec } from '../model/types.js';
import type { Ctx } from './normalize.js';

type Obj = Record<string, unknown>;

export const DEVICE_KEYS = ['devices', 'device_cgroup_rules'] as const;

export type { DeviceCgroupRule };

/** Permissions Docker accepts: a non-empty combination of r, w and m, none repeated. */
export function validPermissions(p: string): boolean {
  return /^[rwm]{1,3}$/.test(p) && new Set(p).size === p.length;
}

/**
 * `HOST[:CONTAINER[:PERMS]]` as Docker reads it: with two parts the second is the permissions when it is
 * made of r/w/m, else the container path. Defaults: the container path is the host's, permissions `rwm`.
 */
export function parseDeviceShort(s: string): DeviceMapping | { error: string; hint: string } {
  const parts = s.split(':');
  const hint = 'write HOST[:CONTAINER[:PERMISSIONS]], e.g. /dev/ttyUSB0:/dev/ttyUSB0:rw (permissions from r, w, m)';
  if (parts.length > 3 || parts.some((p) => p === '')) return { error: `invalid device ${JSON.stringify(s)}`, hint };
  const [source, second, third] = parts as [string, string?, string?];
  let target = source;
  let permissions = 'rwm';
  if (third !== undefined) {
    target = second!;
    permissions = third;
  } else if (second !== undefined) {
    if (validPermissions(second)) permissions = second;
    else target = second;
  }
  return { source, target, permissions };
}

/** Checks the paths and permissions of one mapping: an error message and hint, or undefined. */
export function deviceProblem(d: DeviceMapping): { error: string; hint: string } | undefined {
  if (!d.source.startsWith('/')) {
    return { error: `device ${JSON.stringify(d.source)} is not an absolute host path (CDI device names are not supported by tsstack)`, hint: 'name the host device node, e.g. /dev/ttyUSB0' };
  }
  if (!d.target.startsWith('/')) return { error: `device target ${JSON.stringify(d.target)} is not an absolute path`, hint: 'write the path inside the container, e.g. /dev/mydevice' };
  if (!validPermissions(d.permissions)) return { error: `invalid device permissions ${JSON.stringify(d.permissions)}`, hint: 'write a combination of r (read), w (write) and m (mknod), e.g. rw' };
  return undefined;
}

/** `TYPE MAJOR:MINOR ACCESS` (Docker's `--device-cgroup-rule`): `c 1:3 rwm`, `a *:* rwm`, `b 7:* r`. */
export function parseCgroupRule(rule: string): DeviceCgroupRule | undefined {
  const m = /^\s*([abc])\s+(\*|\d+):(\*|\d+)\s+([rwm]{1,3})\s*$/.exec(rule);
  if (!m || !validPermissions(m[4]!)) return undefined;
  const r: DeviceCgroupRule = { type: m[1] as DeviceCgroupRule['type'], access: m[4]! };
  if (m[2] !== '*') r.major = Number(m[2]);
  if (m[3] !== '*') r.minor = Number(m[3]);
  return r;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : v === null || v === undefined ? '' : String(v);
}

/**
 * Reads `devices` (short and long forms, into the long form) and `device_cgroup_rules` of `raw` into `s`;
 * a bad entry is an error naming its line. Each device's location is remembered for the host check at up.
 */
export function normalizeDevices(ctx: Ctx, name: string, raw: Obj, s: ServiceSpec): void {
  const at = (...k: (string | number)[]) => ['services', name, ...k];
  if (Array.isArray(raw.devices) && raw.devices.length) {
    s.devices = raw.devices.map((e, i) => {
      let d: DeviceMapping;
      if (e !== null && typeof e === 'object' && !Array.isArray(e)) {
        const o = e as Obj;
        const source = str(o.source);
        d = { source, target: o.target === undefined || o.target === null || o.target === '' ? source : str(o.target), permissions: o.permissions === undefined || o.permissions === null || o.permissions === '' ? 'rwm' : str(o.permissions) };
      } else {
        const p = parseDeviceShort(str(e));
        if ('error' in p) throw ctx.error(at('devices', i), p.error, p.hint);
        d = p;
      }
      const bad = deviceProblem(d);
      if (bad) throw ctx.error(at('devices', i), bad.error, bad.hint);
      ctx.remember(at('devices', i));
      return d;
    });
  }
  if (Array.isArray(raw.device_cgroup_rules) && raw.device_cgroup_rules.length) {
    s.device_cgroup_rules = raw.device_cgroup_rules.map((e, i) => {
      const rule = str(e);
      const parsed = parseCgroupRule(rule);
      if (!parsed) throw ctx.error(at('device_cgroup_rules', i), `invalid device cgroup rule ${JSON.stringify(rule)}`, 'write TYPE MAJOR:MINOR ACCESS, e.g. "c 1:3 rwm" or "b 7:* r" (type a, b or c; * for any number)');
      return parsed;
    });
  }
}
