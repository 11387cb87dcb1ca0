// `security_opt` entries (Docker's `--security-opt`): which ones tsstack
// applies and what each means. Pure but for reading a profile to hash it;
// used by stack/ (warnings, errors) and by reconcile/ (the container's desired
// config).
//
// Docker accepts `key=value` and the older `key:value`; the separator is the
// first `=` or `:` of the entry.

import { createHash } from 'node:crypto';
import { readSmallFile } from '../util/read-small-file.js';

export interface SecurityOpts {
  /** `no-new-privileges[:true|=true]`: the process cannot gain privileges through execve (setuid, file caps). */
  noNewPrivileges?: boolean;
  /** `unconfined` (no filter), or the path of a Docker seccomp profile (JSON); absent: the default profile. */
  seccomp?: string;
}

export type SecurityOptEntry =
  | { kind: 'ok'; key: 'no-new-privileges'; value: boolean }
  | { kind: 'ok'; key: 'seccomp'; value: string }
  | { kind: 'ignored'; message: string }
  | { kind: 'invalid'; message: string; hint: string };

function split(entry: string): [string, string | undefined] {
  const m = /[=:]/.exec(entry);
  return m ? [entry.slice(0, m.index), entry.slice(m.index + 1)] : [entry, undefined];
}

/** What one entry means for tsstack. */
export function parseSecurityOpt(entry: string): SecurityOptEntry {
  const [key, value] = split(entry.trim());
  switch (key) {
    case 'no-new-privileges': {
      if (value === undefined || value === 'true') return { kind: 'ok', key, value: true };
      if (value === 'false') return { kind: 'ok', key, value: false };
      return { kind: 'invalid', message: `invalid no-new-privileges value ${JSON.stringify(value)}`, hint: 'write no-new-privileges:true or no-new-privileges:false' };
    }
    case 'seccomp':
      if (!value) return { kind: 'invalid', message: 'seccomp needs a value', hint: 'write seccomp=unconfined or seccomp=<path of a JSON profile>' };
      // `builtin` names the default profile (Docker's word for it)
      return { kind: 'ok', key, value };
    case 'label':
    case 'apparmor':
      return { kind: 'ignored', message: `${key}: tsstack has no ${key === 'label' ? 'SELinux' : 'AppArmor'} support; ignored` };
    default:
      return { kind: 'ignored', message: `security_opt ${JSON.stringify(entry)} is not supported by tsstack; ignored` };
  }
}

/** The options applied from a service's entries (the last of a key wins, as in Docker); unsupported ones are skipped. */
export function securityOpts(entries: readonly string[] | undefined): SecurityOpts {
  const out: SecurityOpts = {};
  for (const e of entries ?? []) {
    const p = parseSecurityOpt(e);
    if (p.kind !== 'ok') continue;
    if (p.key === 'no-new-privileges') out.noNewPrivileges = p.value;
    else if (p.value === 'builtin') delete out.seccomp;
    else out.seccomp = p.value;
  }
  return out;
}

/**
 * sha256 of a seccomp profile's content, part of the container's config hash; undefined for the default
 * profile, `unconfined` and a file that cannot be read (creating the container then says why). The default
 * profile is not hashed: as in Docker, a new default applies to containers created after it.
 */
export function seccompProfileDigest(seccomp: string | undefined): string | undefined {
  if (!seccomp || seccomp === 'unconfined') return undefined;
  try {
    return createHash('sha256').update(readSmallFile(seccomp)).digest('hex');
  } catch {
    return undefined;
  }
}
