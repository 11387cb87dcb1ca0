// The stack-file loader: files → StackModel.
// Pipeline per file: read → parse (yaml-read) → interpolate → validate
// (schema) → resolve relative paths → include → extends; then the -f files
// are merged (merge.ts), profiles select services, env files are read, and
// normalize.ts expands every short syntax. Finally cross-references are
// checked (depends_on targets and cycles, networks, duplicate host ports).
// No IO but reading the files it is given (and probing for default names).

import { closeSync, constants, existsSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { NetworkSpec, ServiceSpec, SpecWarning, StackModel } from '../model/types.js';
import { TsstackError } from '../util/errors.js';
import { DotenvError, parseDotenv } from './dotenv.js';
import { interpolateFile, interpolateValue, resolveBareEnvironment, resolveFileObjectEnvironment } from './interpolate-doc.js';
import type { Lookup } from './interpolate.js';
import { isObj, mergeDocuments, mergeValue } from './merge.js';
import { Ctx, normalizeFileObject, normalizeNetwork, normalizeService, normalizeVolume } from './normalize.js';
import { serviceRefs } from '../model/service.js';
import { omitEmpty } from './omit-empty.js';
import type { Provenance } from './explain.js';
import { checkVolumesFrom } from './volumes-from.js';
import { checkContainerPaths } from './container-paths.js';
import { linkEscape, linkEscapeError, resolveFilePaths, resolvePath } from './resolve-paths.js';
import { validateDocument } from './validate.js';
import { checkSysctlPeers } from './sysctls.js';
import { formatPath, lineOf, parseYaml, type ParsedFile } from './yaml-read.js';
import { normalizeProjectName, projectNameFrom } from '../model/project-name.js';

type Obj = Record<string, unknown>;

export interface LoadOptions {
  files?: string[];
  projectName?: string;
  projectDir?: string;
  envFiles?: string[];
  profiles?: string[];
  env?: Record<string, string | undefined>;
  /** Directory relative -f paths and the default project directory are taken from (default: process.cwd()). */
  cwd?: string;
  /** Replaces file reading (tests feed in-memory documents); must reject with ENOENT for missing files. */
  readFile?: (path: string) => Promise<string>;
  /** Skip cross-reference checks (undefined volumes/networks/services): only for comparing with oracles that skip them. */
  skipConsistencyCheck?: boolean;
  /** Filled with where each variable and interpolated value came from (`config --explain`). */
  provenance?: Provenance;
}

/** Names probed, in order, when no -f is given. */
export const DEFAULT_FILES = ['stack.yaml', 'stack.yml', 'compose.yaml', 'compose.yml', 'docker-compose.yml', 'docker-compose.yaml'];
const OVERRIDE_OF: Record<string, string> = {
  'stack.yaml': 'stack.override.yaml',
  'stack.yml': 'stack.override.yml',
  'compose.yaml': 'compose.override.yaml',
  'compose.yml': 'compose.override.yml',
  'docker-compose.yml': 'docker-compose.override.yml',
  'docker-compose.yaml': 'docker-compose.override.yaml',
};

/** Finds the stack file in `dir` or its parents (plus its `.override` file). */
export function discoverFiles(dir: string): string[] {
  for (let d = resolve(dir); ; d = dirname(d)) {
    for (const name of DEFAULT_FILES) {
      const f = join(d, name);
      if (existsSync(f)) {
        const o = join(d, OVERRIDE_OF[name]!);
        return existsSync(o) ? [f, o] : [f];
      }
    }
    if (dirname(d) === d) break;
  }
  throw new TsstackError('SPEC', `no stack file found in ${resolve(dir)} or its parents`, {
    hint: `create one of ${DEFAULT_FILES.join(', ')}, or pass -f FILE`,
  });
}

export { normalizeProjectName };

interface Loaded {
  doc: Obj;
  origin: Map<string, ParsedFile>;
}

class Loader {
  readonly sourceFiles = new Set<string>();
  /** Every file parsed, in order, to point errors in merged data back at a file and line. */
  readonly parsedFiles: ParsedFile[] = [];
  /** Warnings found before normalization (unset variables). */
  readonly warnings: SpecWarning[] = [];
  private readonly extendsCache = new Map<string, ParsedFile>();
  /** Where values came from, when `config --explain` asks. */
  provenance?: Provenance;
  constructor(
    readonly read: (p: string) => Promise<string>,
    readonly home: string | undefined,
  ) {}

  /** One read per path and load: an env_file shared by 200 services is read once. */
  private readonly reads = new Map<string, Promise<string>>();

  async text(path: string, what: string, from?: { file: string; line?: number }): Promise<string> {
    try {
      let pending = this.reads.get(path);
      if (!pending) this.reads.set(path, (pending = this.read(path)));
      const t = await pending;
      this.sourceFiles.add(path);
      return t;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new TsstackError('SPEC', `cannot read ${what} ${path}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`, {
        location: from ? { file: from.file, line: from.line } : { file: path },
        hint: code === 'ENOENT' ? 'check the path (relative paths are resolved against the project directory)' : code === 'ENOTREG' || code === 'EFBIG' ? `name a regular file of at most ${MAX_INPUT_BYTES >> 20} MiB` : undefined,
        cause: e,
      });
    }
  }

  /** read → parse, for one file; the result is still uninterpolated. */
  async readParsed(path: string, from?: { file: string; line?: number }): Promise<ParsedFile> {
    const pf = parseYaml(path, await this.text(path, 'stack file', from));
    if (pf.docs) {
      let v: unknown = {};
      for (const d of pf.docs) v = mergeValue(v, d ?? {}, []);
      pf.value = v;
    }
    if (pf.value === null || pf.value === undefined) pf.value = {};
    this.parsedFiles.push(pf);
    if (!isObj(pf.value)) throw new TsstackError('SPEC', 'the top level of a stack file must be a mapping', { location: { file: path }, hint: 'start the file with services:' });
    return pf;
  }

  /** parse → interpolate → resolve paths, for one file (validation runs once on the merged data). */
  async parse(path: string, base: string, lookup: Lookup, from?: { file: string; line?: number }, parsed?: ParsedFile): Promise<ParsedFile> {
    const pf = parsed ?? (await this.readParsed(path, from));
    const prov = this.provenance;
    interpolateFile(pf, lookup, (name, p, line) => {
      if (name === 'COMPOSE_PROJECT_NAME' || name === 'TSSTACK_PROJECT_NAME') return;
      this.warnings.push({ file: pf.file, line, path: formatPath(p), message: `the ${JSON.stringify(name)} variable is not set; defaulting to a blank string` });
    }, prov && ((p, template, result, names) => prov.uses.push({ file: pf.file, line: lineOf(pf.lines, p), path: formatPath(p), template, result, names })));
    omitEmpty(pf.value);
    resolveBareEnvironment(pf, lookup);
    resolveFileObjectEnvironment(pf, lookup);
    resolveFilePaths(pf, base, this.home);
    return pf;
  }

  /** The file (latest wins) whose line table knows the longest prefix of `path`. */
  locate = (path: readonly (string | number)[]): { file: string; line?: number } => {
    let best: { file: string; line?: number; depth: number } = { file: this.parsedFiles[0]?.file ?? '', depth: -1 };
    for (const pf of this.parsedFiles) {
      for (let n = path.length; n >= 0; n--) {
        const l = pf.lines.get(path.slice(0, n).join('.'));
        if (l === undefined) continue;
        if (n >= best.depth) best = { file: pf.file, line: l, depth: n };
        break;
      }
    }
    return { file: best.file, line: best.line };
  };

  async load(path: string, base: string, lookup: Lookup, stack: string[] = [], from?: { file: string; line?: number }, parsed?: ParsedFile): Promise<Loaded> {
    if (stack.includes(path)) {
      throw new TsstackError('SPEC', `include cycle: ${[...stack, path].join(' -> ')}`, { location: from ?? { file: path }, hint: 'remove the include that points back' });
    }
    const pf = await this.parse(path, base, lookup, from, parsed);
    const doc = pf.value as Obj;
    const origin = new Map<string, ParsedFile>();
    if (isObj(doc.services)) for (const name of Object.keys(doc.services)) origin.set(name, pf);
    await this.resolveExtends(pf);
    if (doc.include !== undefined && doc.include !== null && !Array.isArray(doc.include)) {
      const line = lineOf(pf.lines, ['include']);
      throw new TsstackError('SPEC', 'include must be a list', { location: { file: pf.file, line, path: 'include' }, hint: 'write include: [other/compose.yaml]' });
    }
    if (Array.isArray(doc.include)) await this.include(pf, doc, origin, base, lookup, [...stack, path]);
    delete doc.include;
    return { doc, origin };
  }

  private async include(pf: ParsedFile, doc: Obj, origin: Map<string, ParsedFile>, base: string, lookup: Lookup, stack: string[]): Promise<void> {
    const entries = doc.include as unknown[];
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      const from = { file: pf.file, line: lineOf(pf.lines, ['include', i]) };
      const spec = typeof e === 'string' ? { path: [e] } : isObj(e) ? e : undefined;
      const rawPaths = spec === undefined ? [] : Array.isArray(spec.path) ? spec.path : [spec.path];
      if (!spec || rawPaths.length === 0 || rawPaths.some((p) => typeof p !== 'string' || p === '') || (spec.env_file !== undefined && typeof spec.env_file !== 'string' && !Array.isArray(spec.env_file))) {
        throw new TsstackError('SPEC', `include[${i}] must be a path or a mapping with path:`, {
          location: { ...from, path: `include[${i}]` },
          hint: 'write include: [other/compose.yaml] or include: [{path: other/compose.yaml}]',
        });
      }
      for (const p of [...rawPaths, ...(spec.env_file === undefined ? [] : [spec.env_file].flat())]) {
        const esc = linkEscape(base, String(p));
        if (esc) throw linkEscapeError(String(p), esc, { ...from, path: `include[${i}]` });
      }
      const paths = rawPaths.map((p) => resolvePath(base, String(p), this.home));
      const projectDir = spec.project_directory !== undefined ? resolvePath(base, String(spec.project_directory), this.home) : dirname(paths[0]!);
      const envFiles = spec.env_file === undefined ? [join(projectDir, '.env')] : (Array.isArray(spec.env_file) ? spec.env_file : [spec.env_file]).map((p) => resolvePath(base, String(p), this.home));
      const vars = new Map<string, string>();
      for (const f of envFiles) {
        if (spec.env_file === undefined && !(await exists(this.read, f))) continue;
        parseEnvFile(await this.text(f, 'env file', from), f, lookup, vars, this.provenance);
      }
      const incLookup: Lookup = (k) => lookup(k) ?? vars.get(k);
      const parts: Loaded[] = [];
      for (const p of paths) parts.push(await this.load(p, projectDir, incLookup, stack, from));
      // Included resources are the base; the including file's own definitions are merged over them.
      let inc: unknown = {};
      for (const part of parts) inc = mergeValue(inc, part.doc, []);
      for (const section of ['services', 'networks', 'volumes', 'secrets', 'configs']) {
        const incSection = (inc as Obj)[section];
        if (!isObj(incSection)) continue;
        const own = isObj(doc[section]) ? (doc[section] as Obj) : {};
        doc[section] = mergeValue(incSection, own, [section]);
        if (section === 'services') for (const part of parts) for (const [k, v] of part.origin) if (!origin.has(k)) origin.set(k, v);
      }
    }
  }

  private async resolveExtends(pf: ParsedFile): Promise<void> {
    const doc = pf.value as Obj;
    if (!isObj(doc.services)) return;
    const services = doc.services;
    const done = new Map<string, Obj>();
    for (const name of Object.keys(services)) services[name] = await this.extendService(pf, name, [], done);
  }

  private async extendService(pf: ParsedFile, name: string, stack: string[], done: Map<string, Obj>): Promise<Obj> {
    const services = (pf.value as Obj).services as Obj;
    const key = `${pf.file}#${name}`;
    if (done.has(key)) return done.get(key)!;
    const svc = services[name] === null ? {} : services[name];
    if (!isObj(svc)) {
      const line = lineOf(pf.lines, ['services', name]);
      throw new TsstackError('SPEC', `services.${name} must be a mapping`, { location: { file: pf.file, line, path: `services.${name}` } });
    }
    if (svc.extends === undefined) return svc;
    const at = { file: pf.file, line: lineOf(pf.lines, ['services', name, 'extends']) };
    if (stack.includes(key)) {
      throw new TsstackError('SPEC', `circular reference with extends: ${[...stack, key].join(' -> ')}`, { location: { ...at, path: `services.${name}.extends` } });
    }
    const ext = typeof svc.extends === 'string' ? { service: svc.extends } : isObj(svc.extends) ? svc.extends : {};
    if (typeof ext.service !== 'string' || ext.service === '' || (ext.file !== undefined && typeof ext.file !== 'string')) {
      throw new TsstackError('SPEC', `extends.${name}.service is required`, { location: { ...at, path: `services.${name}.extends` } });
    }
    let basePf = pf;
    if (typeof ext.file === 'string') {
      let cached = this.extendsCache.get(ext.file);
      if (!cached) {
        // The other file's own variables are the project's; its paths are relative to itself.
        cached = await this.parse(ext.file, dirname(ext.file), this.extendsLookup, at);
        this.extendsCache.set(ext.file, cached);
      }
      basePf = cached;
    }
    const baseServices = (basePf.value as Obj).services;
    if (!isObj(baseServices) || !(ext.service in baseServices)) {
      throw new TsstackError('SPEC', `cannot extend service ${JSON.stringify(name)}: service ${JSON.stringify(ext.service)} not found in ${basePf.file}`, {
        location: { ...at, path: `services.${name}.extends` },
      });
    }
    const base = await this.extendService(basePf, ext.service, [...stack, key], new Map());
    const own = { ...svc };
    delete own.extends;
    const merged = mergeValue(structuredClone(base), own, ['services', name]) as Obj;
    delete merged.extends;
    done.set(key, merged);
    return merged;
  }

  extendsLookup: Lookup = () => undefined;
}

async function exists(read: (p: string) => Promise<string>, p: string): Promise<boolean> {
  try {
    await read(p);
    return true;
  } catch {
    return false;
  }
}

function parseEnvFile(text: string, file: string, lookup: Lookup, vars: Map<string, string>, prov?: Provenance): Record<string, string> {
  try {
    return parseDotenv(text, lookup, vars, prov && ((k, line, v) => prov.fromFile(k, file, line, v)));
  } catch (e) {
    if (e instanceof DotenvError) {
      throw new TsstackError('SPEC', e.message, { location: { file, line: e.line }, hint: 'write lines as KEY=value; quote values with spaces or #' });
    }
    throw e;
  }
}

function definedEnv(env: Record<string, string | undefined>): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, v] of Object.entries(env)) if (v !== undefined) m.set(k, v);
  return m;
}

/**
 * `-f -` names standard input, as in Compose: it is read once (a second load in
 * the same process sees the same text) and the project directory is the working directory.
 */
export const STDIN_FILE = '/dev/stdin';
let stdinText: Promise<string> | undefined;
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer); // a pipe, a file or a socket alike
  return Buffer.concat(chunks).toString('utf8');
}
/** Larger inputs are refused: a stack, env or label file is small, and a hostile one must not fill memory. */
export const MAX_INPUT_BYTES = 16 << 20;

/**
 * Reads a regular file only (a device, FIFO or socket named as an `env_file` or `extends` source is
 * refused, not read forever), opened non-blocking so a FIFO does not wait for a writer, up to MAX_INPUT_BYTES.
 */
async function readRegular(p: string): Promise<string> {
  // on this thread: a stack file is a few kB, and every command reads its stack files (the model cache
  // hashes them); node:fs/promises, which loads Node's readline and fs streams with it, cost ~2 ms more
  const fd = openSync(p, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOTREG' });
    if (st.size > MAX_INPUT_BYTES) throw Object.assign(new Error(`larger than ${MAX_INPUT_BYTES >> 20} MiB`), { code: 'EFBIG' });
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}
const defaultRead = (p: string): Promise<string> => (p === STDIN_FILE ? (stdinText ??= readStdin()) : readRegular(p));

/** The `.env` files read for interpolation: `--env-file`s, else `<dir>/.env` when it exists. */
async function readDotenvs(loader: Loader, envFiles: string[] | undefined, dir: string, env: Map<string, string>): Promise<Map<string, string>> {
  const vars = new Map<string, string>();
  const files = envFiles?.length ? envFiles : [join(dir, '.env')];
  for (const f of files) {
    if (!envFiles?.length && !(await exists(loader.read, f))) continue;
    // the implicit .env is the project's: a link leading out of it (to root's credentials) is not read
    const esc = envFiles?.length ? undefined : linkEscape(dir, '.env');
    if (esc) throw linkEscapeError('.env', esc, { file: f }, `pass that file with --env-file ${esc.real} if it is really meant`);
    parseEnvFile(await loader.text(f, 'env file'), f, (k) => env.get(k), vars, loader.provenance);
  }
  return vars;
}

/**
 * The stack files: `-f`, else COMPOSE_FILE (TSSTACK_FILE first) split on COMPOSE_PATH_SEPARATOR
 * (default `:`), taken from the environment or, as Compose does, from the `.env` of the
 * directory the files are looked for in; else the default names found there or above.
 */
function chooseFiles(opts: LoadOptions, cwd: string, early: Lookup): string[] {
  if (opts.files && opts.files.length > 0) return opts.files.map((f) => (f === '-' ? STDIN_FILE : resolve(cwd, f)));
  const start = resolve(cwd, opts.projectDir ?? '.');
  const listed = early('TSSTACK_FILE') ?? early('COMPOSE_FILE');
  if (listed) {
    const sep = early('TSSTACK_PATH_SEPARATOR') ?? early('COMPOSE_PATH_SEPARATOR') ?? ':';
    return listed.split(sep).filter(Boolean).map((f) => resolve(start, f));
  }
  return discoverFiles(start);
}

/** Loads, merges, validates and normalizes a stack. */
export async function loadStack(opts: LoadOptions = {}): Promise<StackModel> {
  const env = definedEnv(opts.env ?? process.env);
  const loader = new Loader(opts.readFile ?? defaultRead, env.get('HOME'));
  loader.provenance = opts.provenance;
  try {
    return await loadWith(loader, opts, env);
  } catch (e) {
    // "variable X is not set" said before an error is often its cause: it goes out with it.
    if (e instanceof TsstackError) for (const w of loader.warnings) e.warnings.push(`${w.file}${w.line ? `:${w.line}` : ''}: ${w.path}: ${w.message}`);
    throw e;
  }
}

async function loadWith(loader: Loader, opts: LoadOptions, env: Map<string, string>): Promise<StackModel> {
  const cwd = opts.cwd ?? process.cwd();
  const envFiles = opts.envFiles?.map((f) => resolve(cwd, f));

  // Without -f, the `.env` where the files are looked for may choose them (COMPOSE_FILE).
  const startVars = opts.files?.length ? new Map<string, string>() : await readDotenvs(loader, envFiles, resolve(cwd, opts.projectDir ?? '.'), env);
  const files = chooseFiles(opts, cwd, (k) => env.get(k) ?? startVars.get(k));
  const projectDir = resolve(cwd, opts.projectDir ?? (files[0] === STDIN_FILE ? '.' : dirname(files[0]!)));

  // .env (or --env-file): variables for interpolation; the process environment wins.
  const dotVars = !opts.files?.length && (envFiles?.length || projectDir === resolve(cwd, opts.projectDir ?? '.')) ? startVars : await readDotenvs(loader, envFiles, projectDir, env);
  const baseLookup: Lookup = (k) => env.get(k) ?? dotVars.get(k);

  // The project name is known before interpolation (files may use ${COMPOSE_PROJECT_NAME}).
  const parsed: ParsedFile[] = [];
  for (const f of files) parsed.push(await loader.readParsed(f));
  let fileName: string | undefined;
  for (const pf of parsed) {
    const n = (pf.value as Obj).name;
    if (typeof n !== 'string' || n === '') continue;
    fileName = String(
      interpolateValue(n, baseLookup, (_path, e) => {
        throw new TsstackError('SPEC', `name: ${e.message}`, { location: { file: pf.file, line: lineOf(pf.lines, ['name']), path: 'name' } });
      }),
    );
  }
  const { raw: rawName, name } = projectNameFrom({ option: opts.projectName, lookup: baseLookup, fileName, projectDir })!;
  if (name === '') {
    throw new TsstackError('SPEC', `project name must not be empty (derived from ${JSON.stringify(rawName)})`, { hint: 'pass -p NAME or set name: in the stack file' });
  }
  const lookup: Lookup = (k) => (k === 'COMPOSE_PROJECT_NAME' || k === 'TSSTACK_PROJECT_NAME' ? name : baseLookup(k));
  loader.extendsLookup = lookup;

  const loaded: Loaded[] = [];
  for (let i = 0; i < files.length; i++) loaded.push(await loader.load(files[i]!, projectDir, lookup, [], undefined, parsed[i]));
  const raw = mergeDocuments(loaded.map((l) => l.doc));
  validateDocument(raw, loader.locate);
  const origin = new Map<string, ParsedFile>();
  for (const l of loaded) for (const [k, v] of l.origin) origin.set(k, v);
  const ctx = new Ctx(loader.locate);
  ctx.skipConsistency = opts.skipConsistencyCheck === true;

  if (raw.version !== undefined) ctx.warn(['version'], 'the attribute `version` is obsolete and ignored');

  const services = isObj(raw.services) ? raw.services : {};
  const allProfiles = new Set<string>();
  for (const s of Object.values(services)) if (isObj(s) && Array.isArray(s.profiles)) for (const p of s.profiles) allProfiles.add(String(p));
  const active = new Set(opts.profiles ?? (lookup('TSSTACK_PROFILES') ?? lookup('COMPOSE_PROFILES') ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  const enabled = (s: Obj) => !Array.isArray(s.profiles) || s.profiles.length === 0 || active.has('*') || s.profiles.some((p) => active.has(String(p)));

  const declared = (k: string) => opts.skipConsistencyCheck ? null : new Set(isObj(raw[k]) ? Object.keys(raw[k] as Obj) : []);
  const model: StackModel = {
    name,
    workingDir: projectDir,
    sourceFiles: [],
    services: {},
    networks: {},
    volumes: {},
    secrets: {},
    configs: {},
    allProfiles: [...allProfiles].sort(),
    extensions: Object.fromEntries(Object.entries(raw).filter(([k]) => k.startsWith('x-'))),
    warnings: [],
  };
  const sc = { lookup, projectDir, envFileVars: {} as Record<string, string>, labelFileVars: {} as Record<string, string>, volumes: declared('volumes'), secrets: declared('secrets'), configs: declared('configs') };
  const disabled = new Set<string>();
  for (const [svcName, s] of Object.entries(services)) {
    if (!isObj(s)) throw ctx.error(['services', svcName], 'must be a mapping');
    if (!enabled(s)) {
      disabled.add(svcName);
      continue;
    }
    sc.envFileVars = await readServiceEnvFiles(loader, ctx, svcName, s, lookup, origin.get(svcName));
    sc.labelFileVars = await readServiceEnvFiles(loader, ctx, svcName, s, lookup, origin.get(svcName), 'label_file');
    model.services[svcName] = normalizeService(ctx, svcName, s, sc);
  }
  for (const [k, v] of Object.entries(isObj(raw.networks) ? raw.networks : {})) model.networks[k] = normalizeNetwork(ctx, name, k, v);
  for (const [k, v] of Object.entries(isObj(raw.volumes) ? raw.volumes : {})) model.volumes[k] = normalizeVolume(ctx, name, k, v);
  for (const kind of ['secrets', 'configs'] as const) for (const [k, v] of Object.entries(isObj(raw[kind]) ? (raw[kind] as Obj) : {})) model[kind][k] = normalizeFileObject(ctx, name, kind, k, v);
  if (raw.models !== undefined) ctx.warn(['models'], 'models is not supported by tsstack yet; ignored');

  checkContainerPaths(ctx, model);
  if (!opts.skipConsistencyCheck) {
    checkReferences(ctx, model, disabled);
    checkRawServiceRefs(ctx, services, disabled);
    checkVolumesFrom(ctx, model, disabled);
    checkSysctlPeers(ctx, model);
  }
  model.sourceFiles = [...loader.sourceFiles].sort();
  model.warnings = [...loader.warnings, ...ctx.warnings];
  if (Object.keys(ctx.lines).length) model.lines = ctx.lines;
  return model;
}

/** Reads a service's `env_file` (or `label_file`) entries in order, later files winning. */
async function readServiceEnvFiles(loader: Loader, ctx: Ctx, name: string, s: Obj, lookup: Lookup, pf: ParsedFile | undefined, key: 'env_file' | 'label_file' = 'env_file'): Promise<Record<string, string>> {
  const v = s[key];
  const list = v === undefined ? [] : Array.isArray(v) ? v : [v];
  const out: Record<string, string> = {};
  for (let i = 0; i < list.length; i++) {
    const e = list[i];
    const path = String(isObj(e) ? e.path : e);
    const required = isObj(e) && e.required !== undefined ? e.required === true || e.required === 'true' : true;
    const at = ['services', name, key, i];
    const from = pf ? { file: pf.file, line: lineOf(pf.lines, at) } : ctx.where(at);
    if (!required && !(await exists(loader.read, path))) continue;
    if (isObj(e) && e.format !== undefined && e.format !== 'raw') throw ctx.error(at, `${key} format ${JSON.stringify(e.format)} is not supported`, 'omit format or use raw');
    const text = await loader.text(path, key === 'env_file' ? 'env file' : 'label file', from);
    if (isObj(e) && e.format === 'raw') {
      for (const line of text.split(/\r?\n/)) {
        const eq = line.indexOf('=');
        if (line.trim() && !line.trimStart().startsWith('#') && eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
      }
    } else Object.assign(out, parseEnvFile(text, path, lookup, new Map()));
  }
  return out;
}

/** `ipc`/`pid: service:X` values tsstack does not apply are warned about, but naming an undefined service is still an error (volumes_from: volumes-from.ts). */
function checkRawServiceRefs(ctx: Ctx, services: Obj, disabled: Set<string>): void {
  const known = (n: string) => n in services || disabled.has(n);
  for (const [n, s] of Object.entries(services)) {
    if (!isObj(s) || disabled.has(n)) continue;
    for (const k of ['ipc', 'pid']) {
      const v = s[k];
      if (typeof v === 'string' && v.startsWith('service:') && !known(v.slice(8))) throw ctx.error(['services', n, k], `service ${JSON.stringify(n)} refers to undefined service ${v.slice(8)}`);
    }
  }
}

function checkReferences(ctx: Ctx, model: StackModel, disabled: Set<string>): void {
  const names = Object.keys(model.services);
  // depends_on targets.
  for (const [n, s] of Object.entries(model.services)) {
    for (const dep of Object.keys(s.depends_on)) {
      if (model.services[dep]) continue;
      if (disabled.has(dep)) {
        if (s.depends_on[dep]!.required) ctx.warn(['services', n, 'depends_on', dep], `depends on ${dep}, which is disabled by profiles; the dependency is ignored`);
        delete s.depends_on[dep];
        continue;
      }
      throw ctx.error(['services', n, 'depends_on', dep], `service ${JSON.stringify(n)} depends on undefined service ${JSON.stringify(dep)}`, `define service ${dep} or remove it from depends_on`);
    }
  }
  // Cycles (depth-first, sorted for a stable report).
  const state = new Map<string, 1 | 2>();
  const visit = (n: string, trail: string[]): void => {
    if (state.get(n) === 2) return;
    if (state.get(n) === 1) {
      const cycle = [...trail.slice(trail.indexOf(n)), n];
      throw ctx.error(['services', cycle[cycle.length - 2]!, 'depends_on'], `dependency cycle detected: ${cycle.join(' -> ')}`, 'remove one of the depends_on entries of the cycle');
    }
    state.set(n, 1);
    for (const d of Object.keys(model.services[n]!.depends_on).sort()) visit(d, [...trail, n]);
    state.set(n, 2);
  };
  for (const n of names.sort()) visit(n, []);
  // Network references and the implicit default network.
  for (const [n, s] of Object.entries(model.services)) {
    for (const net of Object.keys(s.networks)) {
      if (model.networks[net]) continue;
      if (net === 'default') {
        model.networks.default = { name: `${model.name}_default`, driver_opts: {}, labels: {} } satisfies NetworkSpec;
        continue;
      }
      throw ctx.error(['services', n, 'networks', net], `service ${JSON.stringify(n)} refers to undefined network ${net}`, 'declare it under the top-level networks: key');
    }
    // network_mode/pid/ipc `service:` references (links became depends_on entries; volumes_from: volumes-from.ts)
    for (const ref of serviceRefs(s)) {
      if (model.services[ref.service] || disabled.has(ref.service)) continue;
      if (ref.key === 'network_mode') throw ctx.error(['services', n, 'network_mode'], `service ${JSON.stringify(n)} uses the network of undefined service ${ref.service}`);
      if (ref.key === 'pid' || ref.key === 'ipc') {
        throw ctx.error(['services', n, ref.key], `service ${JSON.stringify(n)} uses the ${ref.key} namespace of undefined service ${ref.service}`, 'name a service of this stack, or use container:NAME for another container');
      }
    }
  }
  // The same host port published twice.
  const seen = new Map<string, string>();
  for (const [n, s] of Object.entries(model.services)) {
    s.ports.forEach((p, i) => {
      if (p.published === undefined || p.published.start !== p.published.end) return;
      const key = `${p.host_ip ?? '0.0.0.0'}:${p.published.start}/${p.protocol}`;
      const here = formatPath(['services', n, 'ports', i]);
      const prev = seen.get(key);
      if (prev) throw ctx.error(['services', n, 'ports', i], `host port ${key} is published twice (also at ${prev})`, 'publish each host port once, or use different host addresses');
      seen.set(key, here);
    });
  }
}

export type { ServiceSpec };
