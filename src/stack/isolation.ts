// Service keys about isolation and placement: `pid`, `ipc`, `uts`,
// `security_opt`, `platform`, `cgroup_parent`. Values tsstack cannot apply are
// warned about (with their line) and left out of the model.

import { isAbsolute, resolve } from 'node:path';
import type { SecurityOpt, ServiceSpec } from '../model/types.js';
import type { Ctx } from './normalize.js';
import { parseSecurityOpt } from './security-opt.js';
import { parseRef } from './short-forms.js';

type Obj = Record<string, unknown>;

export const ISOLATION_KEYS = ['pid', 'ipc', 'uts', 'security_opt', 'platform', 'cgroup_parent'] as const;

const SHARE = /^(service|container):[^:\s]+$/;

/** Values each namespace key takes (besides `service:X` / `container:X` where allowed). */
const NS_VALUES: Record<'pid' | 'ipc' | 'uts', { plain: string[]; share: boolean }> = {
  pid: { plain: ['host'], share: true },
  ipc: { plain: ['host', 'private', 'shareable'], share: true },
  uts: { plain: ['host'], share: false },
};

function str(v: unknown): string {
  return typeof v === 'string' ? v : v === null || v === undefined ? '' : String(v);
}

/** Reads the isolation keys of `raw` into `s`. `projectDir` anchors a relative seccomp profile path. */
export function normalizeIsolation(ctx: Ctx, name: string, raw: Obj, s: ServiceSpec, projectDir: string): void {
  const at = (...k: (string | number)[]) => ['services', name, ...k];
  for (const key of ['pid', 'ipc', 'uts'] as const) {
    const v = str(raw[key]);
    if (v === '') continue;
    const allowed = NS_VALUES[key];
    if (allowed.plain.includes(v)) {
      if (key === 'uts') s.uts = 'host';
      else s[key] = v as 'host' | 'private' | 'shareable';
    } else if (allowed.share && SHARE.test(v)) s[key as 'pid' | 'ipc'] = parseRef(v)!;
    else {
      const choices = [...allowed.plain, ...(allowed.share ? ['service:NAME', 'container:NAME'] : [])].join(', ');
      ctx.warn(at(key), `${key}: ${JSON.stringify(v)} is not supported by tsstack (${choices}); the container gets its own ${key} namespace`);
    }
  }
  if (Array.isArray(raw.security_opt)) {
    s.security_opt = raw.security_opt.map((e, i): SecurityOpt => {
      const entry = str(e);
      const p = parseSecurityOpt(entry);
      if (p.kind === 'invalid') throw ctx.error(at('security_opt', i), p.message, p.hint);
      if (p.kind === 'ignored') {
        ctx.warn(at('security_opt', i), p.message);
        return { key: 'ignored', written: entry };
      }
      if (p.key === 'seccomp' && p.value !== 'unconfined' && p.value !== 'builtin' && !isAbsolute(p.value)) {
        const path = resolve(projectDir, p.value);
        return { key: 'seccomp', value: path, written: `seccomp=${path}` };
      }
      return p.key === 'seccomp' ? { key: p.key, value: p.value, written: entry } : { key: p.key, value: p.value, written: entry };
    });
  }
  if (raw.platform !== undefined && raw.platform !== null) {
    const v = str(raw.platform);
    if (!/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/i.test(v)) throw ctx.error(at('platform'), `platform ${JSON.stringify(v)} is not os/arch[/variant]`, 'write e.g. linux/amd64 or linux/arm64/v8');
    s.platform = v;
  }
  if (raw.cgroup_parent !== undefined && raw.cgroup_parent !== null) {
    const v = str(raw.cgroup_parent).replace(/^\/+|\/+$/g, '');
    if (v === '' || v.split('/').some((p) => p === '..' || p === '.' || p === '')) {
      throw ctx.error(at('cgroup_parent'), `cgroup_parent ${JSON.stringify(raw.cgroup_parent)} is not a cgroup path`, 'write a path like my-group or parent/child (no "..")');
    }
    s.cgroup_parent = v;
  }
}
