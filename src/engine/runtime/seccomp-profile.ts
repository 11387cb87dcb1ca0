// Seccomp profiles → the OCI `linux.seccomp` object of one container: the
// default profile (seccomp-default.ts) and Docker's profile JSON
// (`security_opt: [seccomp=<file>]`). Docker's format adds to the OCI one:
// `archMap` (architectures per host), `includes`/`excludes` per rule
// (capabilities, architectures, minimum kernel) and the older single `name`.
// Rules are kept or dropped here for this host and the container's
// capabilities, as Docker's daemon does before handing the profile to the
// runtime; so a capability added with cap_add opens the calls tied to it.

import { release } from 'node:os';
import { TsstackError } from '../../util/errors.js';
import { SMALL_FILE_MAX, readSmallFile } from '../../util/read-small-file.js';
import { DEFAULT_ARCHES, DEFAULT_PROFILE, EPERM, type ArgTest, type DefaultRule } from './seccomp-default.js';

type Obj = Record<string, unknown>;

/** libseccomp architecture names by Node's `process.arch`. */
const NATIVE_ARCH: Record<string, string> = { x64: 'SCMP_ARCH_X86_64', arm64: 'SCMP_ARCH_AARCH64' };
/** libseccomp's short names, which Docker's `includes.arches` / `excludes.arches` use. */
const SHORT_ARCH: Record<string, string> = { SCMP_ARCH_X86_64: 'amd64', SCMP_ARCH_AARCH64: 'arm64' };

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

/** When a rule is kept: every `includes` holds and no `excludes` does (Docker's rules). */
interface Condition { caps: string[]; arches: string[]; minKernel?: string }

function applies(inc: Condition, exc: Condition, host: SeccompHost): boolean {
  const isHost = (a: string) => a === host.arch || a === SHORT_ARCH[host.arch];
  if (inc.arches.length && !inc.arches.some(isHost)) return false;
  if (exc.arches.some(isHost)) return false;
  if (inc.caps.some((c) => !host.caps.includes(c))) return false;
  if (exc.caps.some((c) => host.caps.includes(c))) return false;
  if (inc.minKernel !== undefined && !kernelAtLeast(host.kernel, inc.minKernel)) return false;
  if (exc.minKernel !== undefined && kernelAtLeast(host.kernel, exc.minKernel)) return false;
  return true;
}

const OP: Record<string, string> = { '==': 'SCMP_CMP_EQ', '!=': 'SCMP_CMP_NE', '<': 'SCMP_CMP_LT', '<=': 'SCMP_CMP_LE', '>': 'SCMP_CMP_GT', '>=': 'SCMP_CMP_GE' };

function ociArg(a: ArgTest): Obj {
  if (a[1] === '&==') return { index: a[0], value: a[2], ...(a[3] !== 0 ? { valueTwo: a[3] } : {}), op: 'SCMP_CMP_MASKED_EQ' };
  return { index: a[0], value: a[2], op: OP[a[1]] };
}

/** The default profile (seccomp-default.ts) for a container with `host.caps` on this host. */
export function defaultSeccompToOci(host: SeccompHost, rules: readonly DefaultRule[] = DEFAULT_PROFILE): Obj {
  const syscalls: Obj[] = [];
  for (const r of rules) {
    const inc: Condition = { caps: [...(r.caps ?? [])], arches: [...(r.arches ?? [])], minKernel: r.minKernel };
    const exc: Condition = { caps: r.withoutCap ? [r.withoutCap] : [], arches: [] };
    if (!applies(inc, exc, host)) continue;
    const rule: Obj = { names: [...r.calls], action: r.errno === undefined ? 'SCMP_ACT_ALLOW' : 'SCMP_ACT_ERRNO' };
    if (r.errno !== undefined) rule.errnoRet = r.errno;
    if (r.args?.length) rule.args = r.args.map(ociArg);
    syscalls.push(rule);
  }
  return { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: EPERM, architectures: [...(DEFAULT_ARCHES[host.arch] ?? [host.arch])], syscalls };
}

/** The default profile for a container with these capabilities, on this host. */
export function defaultSeccomp(caps: string[]): Obj {
  return defaultSeccompToOci({ arch: hostSeccompArch(), kernel: release(), caps });
}

function list(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** Docker's `includes` / `excludes` object. */
function condition(v: unknown): Condition {
  const c = (v && typeof v === 'object' ? v : {}) as Obj;
  return { caps: list(c.caps), arches: list(c.arches), minKernel: typeof c.minKernel === 'string' ? c.minKernel : undefined };
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
    if (!applies(condition(r.includes), condition(r.excludes), host)) return;
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
    text = readSmallFile(file).toString('utf8'); // Docker's default is about 20 KB
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOTREG' ? 'it is not a regular file' : code === 'EFBIG' ? `it is larger than ${SMALL_FILE_MAX} bytes` : code ?? (e as Error).message;
    throw new TsstackError('SPEC', `seccomp profile ${file} cannot be read: ${why}`, { hint: 'fix the path in security_opt (relative paths are from the project directory)' });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new TsstackError('SPEC', `seccomp profile ${file} is not valid JSON: ${(e as Error).message}`, { hint: 'a seccomp profile is a JSON file in Docker\'s format' });
  }
  return dockerSeccompToOci(json, { arch: hostSeccompArch(), kernel: release(), caps }, file);
}
