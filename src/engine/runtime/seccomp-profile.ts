// Docker's seccomp profile JSON (`security_opt: [seccomp=<file>]`) → the OCI
// `linux.seccomp` object. Docker's format adds to the OCI one: `archMap`
// (architectures per host), `includes`/`excludes` per rule (capabilities,
// architectures, minimum kernel) and the older single `name`. Rules are kept
// or dropped here for this host and the container's capabilities, as Docker's
// daemon does before handing the profile to the runtime.

import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { TsstackError } from '../../util/errors.js';

type Obj = Record<string, unknown>;

/** libseccomp architecture names by Node's `process.arch`. */
const NATIVE_ARCH: Record<string, string> = { x64: 'SCMP_ARCH_X86_64', arm64: 'SCMP_ARCH_AARCH64' };

/** Actions tsstack-runtime (native/runtime/seccomp.c) and runc both apply. */
const ACTIONS = new Set([
  'SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_KILL', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_TRAP', 'SCMP_ACT_TRACE', 'SCMP_ACT_LOG',
]);
const OPS = new Set(['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ']);

export interface SeccompHost {
  /** libseccomp name of the host's architecture, e.g. SCMP_ARCH_X86_64. */
  arch: string;
  /** Kernel release (`uname -r`), for `includes.minKernel`. */
  kernel: string;
  /** The container's bounding capabilities (CAP_…), for `includes.caps` / `excludes.caps`. */
  caps: string[];
}

export function hostSeccompArch(): string {
  return NATIVE_ARCH[process.arch] ?? `SCMP_ARCH_${process.arch.toUpperCase()}`;
}

function kernelAtLeast(kernel: string, min: string): boolean {
  const parse = (v: string) => (/^(\d+)\.(\d+)/.exec(v) ?? [, '0', '0']).slice(1, 3).map(Number);
  const [a, b] = parse(kernel), [x, y] = parse(min);
  return a! > x! || (a === x && b! >= y!);
}

function list(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** Pure conversion; `file` names the profile in errors. */
export function dockerSeccompToOci(profile: unknown, host: SeccompHost, file: string): Obj {
  const bad = (what: string) => new TsstackError('SPEC', `seccomp profile ${file}: ${what}`, { hint: 'use a profile in Docker\'s format (defaultAction, syscalls[].names/action), or seccomp=unconfined', location: { file } });
  if (!profile || typeof profile !== 'object' || Array.isArray(profile)) throw bad('not a JSON object');
  const p = profile as Obj;
  const action = (a: unknown, where: string): string => {
    if (typeof a !== 'string' || !ACTIONS.has(a)) throw bad(`${where}: action ${JSON.stringify(a)} is not supported (${[...ACTIONS].join(', ')})`);
    return a;
  };
  const out: Obj = { defaultAction: action(p.defaultAction, 'defaultAction') };
  if (typeof p.defaultErrnoRet === 'number') out.defaultErrnoRet = p.defaultErrnoRet;
  let arches: string[] = [];
  if (Array.isArray(p.archMap)) {
    for (const m of p.archMap as Obj[]) if (m && m.architecture === host.arch) arches = [host.arch, ...list(m.subArchitectures)];
  } else arches = list(p.architectures);
  if (arches.length) out.architectures = arches;
  const rules: Obj[] = [];
  (Array.isArray(p.syscalls) ? (p.syscalls as unknown[]) : []).forEach((raw, i) => {
    if (!raw || typeof raw !== 'object') throw bad(`syscalls[${i}] is not an object`);
    const r = raw as Obj;
    const inc = (r.includes ?? {}) as Obj, exc = (r.excludes ?? {}) as Obj;
    if (list(inc.arches).length && !list(inc.arches).includes(host.arch)) return;
    if (list(exc.arches).includes(host.arch)) return;
    if (list(inc.caps).some((c) => !host.caps.includes(c))) return;
    if (list(exc.caps).some((c) => host.caps.includes(c))) return;
    if (typeof inc.minKernel === 'string' && !kernelAtLeast(host.kernel, inc.minKernel)) return;
    const names = [...list(r.names), ...(typeof r.name === 'string' ? [r.name] : [])];
    if (!names.length) throw bad(`syscalls[${i}] names no system call`);
    const rule: Obj = { names, action: action(r.action, `syscalls[${i}]`) };
    if (typeof r.errnoRet === 'number') rule.errnoRet = r.errnoRet;
    const args = Array.isArray(r.args) ? (r.args as Obj[]) : [];
    if (args.length) {
      rule.args = args.map((a, j) => {
        if (!a || typeof a.index !== 'number' || typeof a.value !== 'number' || typeof a.op !== 'string' || !OPS.has(a.op)) throw bad(`syscalls[${i}].args[${j}] needs index, value and a known op`);
        return { index: a.index, value: a.value, ...(typeof a.valueTwo === 'number' && a.valueTwo !== 0 ? { valueTwo: a.valueTwo } : {}), op: a.op };
      });
    }
    rules.push(rule);
  });
  if (rules.length) out.syscalls = rules;
  return out;
}

/** Reads and converts a profile file for this host. */
export function loadSeccompProfile(file: string, caps: string[]): Obj {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new TsstackError('SPEC', `seccomp profile ${file} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { hint: 'fix the path in security_opt (relative paths are from the project directory)' });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new TsstackError('SPEC', `seccomp profile ${file} is not valid JSON: ${(e as Error).message}`, { hint: 'a seccomp profile is a JSON file in Docker\'s format' });
  }
  return dockerSeccompToOci(json, { arch: hostSeccompArch(), kernel: release(), caps }, file);
}
