// AST nodes → typed instructions grouped into stages. Checks argument counts,
// flags and ONBUILD triggers with BuildKit's messages. Word expansion is not
// done here: values are kept as written and expanded by the builder with the
// stage's environment at the step that uses them. Pure.

import { TsstackError } from '../../../util/errors.js';
import { parseDockerfile, type Heredoc, type Node, type ParseResult } from './parser.js';

interface Base {
  line: number;
  endLine: number;
  /** The logical source line, for progress output and cache keys. */
  original: string;
}

export interface KeyValue { key: string; value: string }
export interface ArgDef { key: string; value?: string; doc: string }

export interface FromInstr extends Base { kind: 'FROM'; image: string; stageName?: string; platform?: string }
export interface ArgInstr extends Base { kind: 'ARG'; args: ArgDef[] }
export interface EnvInstr extends Base { kind: 'ENV' | 'LABEL'; pairs: KeyValue[] }
export interface OneArgInstr extends Base { kind: 'WORKDIR' | 'USER' | 'STOPSIGNAL' | 'MAINTAINER'; value: string }
export interface CommandInstr extends Base {
  kind: 'RUN' | 'CMD' | 'ENTRYPOINT';
  /** Exec form: argv as written. Shell form: one element, the command line. */
  cmd: string[];
  json: boolean;
  /** RUN flags kept for the cache key and for refusing what is unsupported. */
  mounts: string[];
  network?: string;
  heredocs: Heredoc[];
}
export interface ShellInstr extends Base { kind: 'SHELL'; shell: string[] }
export interface CopyInstr extends Base {
  kind: 'COPY' | 'ADD';
  sources: string[];
  dest: string;
  from?: string;
  chown?: string;
  chmod?: string;
  link: boolean;
  /** COPY --parents (not supported: refused at build time). */
  parents: boolean;
  excludes: string[];
  /** Sources that are heredoc markers become files with the heredoc's content. */
  heredocs: Heredoc[];
  checksum?: string;
}
export interface ListInstr extends Base { kind: 'EXPOSE' | 'VOLUME'; values: string[]; json: boolean }
export interface HealthcheckInstr extends Base {
  kind: 'HEALTHCHECK';
  /** `['NONE']`, `['CMD', …]` or `['CMD-SHELL', line]`. */
  test: string[];
  intervalNs?: number;
  timeoutNs?: number;
  startPeriodNs?: number;
  startIntervalNs?: number;
  retries?: number;
}
/** The image config's `Healthcheck` for a HEALTHCHECK instruction (durations in ns, as the OCI config has them). */
export function healthcheckConfig(ins: HealthcheckInstr): { Test: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; StartInterval?: number; Retries?: number } {
  if (ins.test[0] === 'NONE') return { Test: ['NONE'] };
  const h: ReturnType<typeof healthcheckConfig> = { Test: ins.test };
  if (ins.intervalNs) h.Interval = ins.intervalNs;
  if (ins.timeoutNs) h.Timeout = ins.timeoutNs;
  if (ins.startPeriodNs) h.StartPeriod = ins.startPeriodNs;
  if (ins.startIntervalNs) h.StartInterval = ins.startIntervalNs;
  if (ins.retries) h.Retries = ins.retries;
  return h;
}
export interface OnbuildInstr extends Base { kind: 'ONBUILD'; expression: string }

export type Instruction =
  | FromInstr | ArgInstr | EnvInstr | OneArgInstr | CommandInstr | ShellInstr | CopyInstr | ListInstr | HealthcheckInstr | OnbuildInstr;

export interface Stage {
  /** Index in the file, 0-based. */
  index: number;
  name?: string;
  from: FromInstr;
  /** Doc comment above FROM (`# name does x` → `does x`). */
  doc: string;
  commands: Instruction[];
}

export interface Dockerfile {
  file: string;
  escapeToken: string;
  /** Parser directives given at the top (`syntax`, `escape`, `check`). */
  directives: Record<string, string>;
  /** ARGs before the first FROM (visible in FROM lines). */
  metaArgs: ArgInstr[];
  stages: Stage[];
  warnings: string[];
}

/** An instruction-level error: `reason` is BuildKit's text, the message adds file and line. */
export class InstructionError extends TsstackError {
  readonly reason: string;
  constructor(file: string, line: number, reason: string, hint?: string) {
    super('IMAGE', `${file}:${line}: ${reason}`, { hint, location: { file, line } });
    this.reason = reason;
  }
}

class Fail extends Error {}

// ---------------------------------------------------------------- flags

type FlagKind = 'string' | 'bool' | 'strings';
type FlagSpec = Record<string, FlagKind>;
type FlagValues = Record<string, string | boolean | string[]>;

const FLAGS: Record<string, FlagSpec> = {
  from: { platform: 'string' },
  add: { chown: 'string', chmod: 'string', link: 'bool', checksum: 'string', 'keep-git-dir': 'bool', exclude: 'strings', unpack: 'bool' },
  copy: { from: 'string', chown: 'string', chmod: 'string', link: 'bool', parents: 'bool', exclude: 'strings' },
  run: { mount: 'strings', network: 'string', security: 'string' },
  healthcheck: { interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string' },
};

function parseFlags(spec: FlagSpec, raw: string[]): FlagValues {
  const out: FlagValues = {};
  for (const f of raw) {
    if (!f.startsWith('--')) throw new Fail(`arguments must be of form: --x=y (got ${JSON.stringify(f)})`);
    const body = f.slice(2);
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const value = eq < 0 ? undefined : body.slice(eq + 1);
    const kind = spec[name];
    if (!kind) throw new Fail(`unknown flag: --${name}`);
    if (kind === 'strings') {
      if (value === undefined) throw new Fail(`missing a value on flag: --${name}`);
      ((out[name] ??= []) as string[]).push(value);
      continue;
    }
    if (name in out) throw new Fail(`duplicate flag specified: --${name}`);
    if (kind === 'bool') {
      const v = (value ?? 'true').toLowerCase();
      if (v !== 'true' && v !== 'false') throw new Fail(`expecting boolean value for flag --${name}, not: ${value}`);
      out[name] = v === 'true';
    } else {
      if (value === undefined) throw new Fail(`missing a value on flag: --${name}`);
      out[name] = value;
    }
  }
  return out;
}

// ---------------------------------------------------------------- durations

const UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go `time.ParseDuration` → nanoseconds. */
export function parseGoDuration(s: string): number {
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    total += parseFloat(m[1]!) * UNITS[m[2]!]!;
    pos = re.lastIndex;
  }
  if (pos === 0 || pos !== s.length) throw new Fail(`time: invalid duration ${JSON.stringify(s)}`);
  return Math.round(total);
}

function durationFlag(flags: FlagValues, name: string): number | undefined {
  const v = flags[name];
  if (typeof v !== 'string' || v === '') return undefined;
  const ns = parseGoDuration(v);
  if (ns !== 0 && ns < 1e6) throw new Fail(`Interval "${name}" cannot be less than 1ms`);
  return ns;
}

// ---------------------------------------------------------------- instructions

function args(node: Node): string[] {
  const out: string[] = [];
  for (let n = node.next; n; n = n.next) out.push(n.value);
  return out;
}

function base(node: Node): Base {
  return { line: node.startLine, endLine: node.endLine, original: node.original };
}

function exactlyOne(name: string, a: string[]): string {
  if (a.length !== 1) throw new Fail(`${name} requires exactly one argument`);
  return a[0]!;
}

function atLeastOne(name: string, a: string[]): void {
  if (a.length === 0) throw new Fail(`${name} requires at least one argument`);
}

function keyValues(node: Node): KeyValue[] {
  const a = args(node);
  const out: KeyValue[] = [];
  for (let i = 0; i + 1 < a.length; i += 3) out.push({ key: a[i]!, value: a[i + 1]! });
  return out;
}

/** Text of a doc comment for `name` (a comment line starting with the name). */
function docFor(name: string, comments: string[]): string {
  for (let i = comments.length - 1; i >= 0; i--) {
    const c = comments[i]!;
    if (c.startsWith(name + ' ')) return c.slice(name.length + 1).trim();
  }
  return '';
}

const NO_FLAGS: FlagSpec = {};

/** One node → a typed instruction. Throws Fail with BuildKit's reason. */
export function toInstruction(node: Node): Instruction {
  const name = node.value;
  const a = args(node);
  const b = base(node);
  const upper = name.toUpperCase();
  const flags = parseFlags(FLAGS[name] ?? NO_FLAGS, node.flags);
  switch (name) {
    case 'from': {
      if (a.length !== 1 && a.length !== 3) throw new Fail('FROM requires either one or three arguments');
      if (a.length === 3 && a[1]!.toLowerCase() !== 'as') throw new Fail(`FROM requires either one or three arguments (expected "AS", got ${JSON.stringify(a[1])})`);
      const stageName = a.length === 3 ? a[2]!.toLowerCase() : undefined;
      if (stageName !== undefined && !/^[a-z][a-z0-9-_.]*$/.test(stageName)) throw new Fail(`invalid name for build stage: ${JSON.stringify(a[2])}, name can't start with a number or contain symbols`);
      return { kind: 'FROM', ...b, image: a[0]!, stageName, platform: flags.platform as string | undefined };
    }
    case 'arg': {
      atLeastOne(upper, a);
      const defs: ArgDef[] = a.map((w) => {
        const eq = w.indexOf('=');
        const key = eq < 0 ? w : w.slice(0, eq);
        if (key === '') throw new Fail(`ARG names can not be blank`);
        return { key, value: eq < 0 ? undefined : w.slice(eq + 1), doc: docFor(key, node.comments) };
      });
      return { kind: 'ARG', ...b, args: defs };
    }
    case 'env':
    case 'label': {
      atLeastOne(upper, a);
      return { kind: upper as 'ENV' | 'LABEL', ...b, pairs: keyValues(node) };
    }
    case 'maintainer':
    case 'workdir':
    case 'user':
    case 'stopsignal':
      return { kind: upper as OneArgInstr['kind'], ...b, value: exactlyOne(upper, a) };
    case 'run':
    case 'cmd':
    case 'entrypoint': {
      if (name === 'run') atLeastOne(upper, a);
      return {
        kind: upper as CommandInstr['kind'], ...b, cmd: a, json: node.json,
        mounts: (flags.mount as string[] | undefined) ?? [],
        network: flags.network as string | undefined,
        heredocs: node.heredocs,
      };
    }
    case 'shell': {
      atLeastOne(upper, a);
      if (!node.json) throw new Fail('SHELL requires the arguments to be in JSON form');
      return { kind: 'SHELL', ...b, shell: a };
    }
    case 'copy':
    case 'add': {
      if (a.length < 2) throw new Fail(`${upper} requires at least two arguments, but only one was provided. Destination could not be determined`);
      return {
        kind: upper as 'COPY' | 'ADD', ...b,
        sources: a.slice(0, -1), dest: a[a.length - 1]!,
        from: flags.from as string | undefined,
        chown: flags.chown as string | undefined,
        chmod: flags.chmod as string | undefined,
        link: (flags.link as boolean | undefined) ?? false,
        parents: (flags.parents as boolean | undefined) ?? false,
        excludes: (flags.exclude as string[] | undefined) ?? [],
        checksum: flags.checksum as string | undefined,
        heredocs: node.heredocs,
      };
    }
    case 'expose':
    case 'volume': {
      atLeastOne(upper, a);
      if (name === 'volume' && a.some((v) => v.trim() === '')) throw new Fail('VOLUME specified can not be an empty string');
      return { kind: upper as 'EXPOSE' | 'VOLUME', ...b, values: a, json: node.json };
    }
    case 'healthcheck': {
      atLeastOne(upper, a);
      const typ = a[0]!.toUpperCase();
      if (typ === 'NONE') {
        if (a.length > 1) throw new Fail('HEALTHCHECK NONE takes no arguments');
        return { kind: 'HEALTHCHECK', ...b, test: ['NONE'] };
      }
      if (typ !== 'CMD') throw new Fail(`Unknown type ${JSON.stringify(typ)} in HEALTHCHECK (try CMD)`);
      const cmd = a.slice(1);
      if (cmd.length === 0) throw new Fail('Missing command after HEALTHCHECK CMD');
      const test = node.json ? ['CMD', ...cmd] : ['CMD-SHELL', cmd.join(' ')];
      const retriesRaw = flags.retries as string | undefined;
      let retries: number | undefined;
      if (retriesRaw !== undefined && retriesRaw !== '') {
        if (!/^-?\d+$/.test(retriesRaw)) throw new Fail(`invalid value for retries: ${JSON.stringify(retriesRaw)}`);
        retries = Number(retriesRaw);
        if (retries < 0) throw new Fail('--retries cannot be negative');
      }
      return {
        kind: 'HEALTHCHECK', ...b, test,
        intervalNs: durationFlag(flags, 'interval'),
        timeoutNs: durationFlag(flags, 'timeout'),
        startPeriodNs: durationFlag(flags, 'start-period'),
        startIntervalNs: durationFlag(flags, 'start-interval'),
        retries,
      };
    }
    case 'onbuild': {
      const child = node.next?.children[0];
      if (!child) throw new Fail('ONBUILD requires at least one argument');
      const trigger = child.value.toUpperCase();
      if (trigger === 'ONBUILD') throw new Fail('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (trigger === 'FROM' || trigger === 'MAINTAINER') throw new Fail(`${trigger} isn't allowed as an ONBUILD trigger`);
      toInstruction(child);
      return { kind: 'ONBUILD', ...b, expression: node.original.replace(/^\s*ONBUILD\s*/i, '') };
    }
    default:
      throw new Fail(`unknown instruction: ${originalName(node)}`);
  }
}

const KNOWN = ['ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL', 'MAINTAINER', 'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR'];

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length]!;
}

/** "did you mean RUN?" for a misspelt instruction. */
function suggest(name: string): string {
  const up = name.toUpperCase();
  const best = KNOWN.map((k) => [k, editDistance(up, k)] as const).sort((x, y) => x[1] - y[1])[0]!;
  return best[1] <= 2 ? `did you mean ${best[0]}?` : `instructions are ${KNOWN.join(', ')}`;
}

function originalName(node: Node): string {
  const m = /^\s*(\S+)/.exec(node.original);
  return m ? m[1]! : node.value;
}

/** Typed view of a parsed file. Throws InstructionError naming file and line. */
export function toDockerfile(parsed: ParseResult, file = 'Dockerfile'): Dockerfile {
  const metaArgs: ArgInstr[] = [];
  const stages: Stage[] = [];
  const warnings = [...parsed.warnings];
  for (const node of parsed.children) {
    let ins: Instruction;
    try {
      ins = toInstruction(node);
    } catch (e) {
      if (e instanceof Fail) {
        const hint = e.message.startsWith('unknown instruction') ? suggest(node.value) : undefined;
        throw new InstructionError(file, node.startLine, e.message, hint);
      }
      throw e;
    }
    if (ins.kind === 'FROM') {
      stages.push({ index: stages.length, name: ins.stageName, from: ins, doc: ins.stageName ? docFor(ins.stageName, node.comments) : '', commands: [] });
      continue;
    }
    const st = stages[stages.length - 1];
    if (!st) {
      if (ins.kind !== 'ARG') throw new InstructionError(file, ins.line, `no build stage in current context`, 'start the file with FROM (only ARG may come before the first FROM)');
      metaArgs.push(ins);
      continue;
    }
    if (ins.kind === 'MAINTAINER') warnings.push(`${file}:${ins.line}: MAINTAINER is deprecated; use LABEL maintainer=…`);
    st.commands.push(ins);
  }
  if (stages.length === 0) throw new InstructionError(file, parsed.endLine, 'no build stage in current context', 'add a FROM instruction');
  return { file, escapeToken: parsed.escapeToken, directives: parsed.directives, metaArgs, stages, warnings };
}

/** Parse text all the way to stages. */
export function parseDockerfileText(text: string, file = 'Dockerfile'): Dockerfile {
  return toDockerfile(parseDockerfile(text, { file }), file);
}
