// `security_opt` entries (Docker's `--security-opt`): which ones tsstack
// applies and what each means. Pure; the loader warns and errors with it and
// puts the parsed entries in the model (model/service.ts folds them).
//
// Docker accepts `key=value` and the older `key:value`; the separator is the
// first `=` or `:` of the entry.


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
