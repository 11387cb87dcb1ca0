// The layered builder: a Dockerfile and a context → an image in the store.
// Stages needed by the target are built in file order; each RUN/COPY/ADD is
// one step on an overlay of the stage's layer chain, and its layer is the
// step's upper dir (overlay whiteouts become OCI `.wh.` entries). Metadata
// instructions only change the image config. Steps are cached by parent chain
// + what they do (see cache.ts); `noCache` skips lookups (results are still
// recorded). RUN shares the builder's network (see run-step.ts).
// What only a step that runs needs (the runtime's spec, copying, packing a
// layer, archives) is imported when one does: a fully cached build loads the
// parser, the context and the cache, and no more.

import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join, posix, resolve } from 'node:path';
import type { BuildRequest, ImageInfo } from '../../api.js';
import { TsstackError } from '../../../util/errors.js';
import { hostPlatform, type ImageConfig } from '../oci.js';
import { BuildCache, cacheKey } from './cache.js';
import { BuildContext, digestSelection, FileHashMemo, readFileInItsDir } from './context.js';
import { bindPinned, SafeRootError, unmountDetached } from './safe-root.js';
import { BuildNetworks, RUN_NETWORK_MODES, type RunNetworkMode } from './network.js';
import { IgnoreMatcher, IgnoreSyntaxError, parseDockerignore } from './dockerignore.js';
import type { CopySource } from './copy.js';
import { nodeFromLine } from './parser.js';
import { healthcheckConfig, parseDockerfileText, toInstruction, type CopyInstr, type CommandInstr, type Dockerfile, type Instruction, type Stage } from './instructions.js';
import type { OciMountInput } from '../../runtime/oci-spec.js';
import { MountSpecError, parseRunMount, type RunMount } from './run-mounts.js';
import { resolveChown, resolveInRoot, resolveUser, UserLookupError } from './rootfs-fs.js';
import { expandHeredoc, expandWord, expandWords, ShellExpansionError } from './shell-lex.js';
import type { BuildLayer, BuildStore } from './store.js';
import { textSum, type MemoNotes } from './memo.js';

export type { BuildStore, BuildLayer } from './store.js';
export { buildCacheKeepSet } from './cache.js';

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const DEFAULT_SHELL = ['/bin/sh', '-c'];
/** Build args Docker accepts without an ARG line (proxies). */
const PREDEFINED_ARGS = new Set(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']);

type RuntimeConfig = Record<string, unknown> & {
  Env?: string[]; User?: string; WorkingDir?: string; Cmd?: string[] | null; Entrypoint?: string[] | null;
  Labels?: Record<string, string>; ExposedPorts?: Record<string, object>; Volumes?: Record<string, object>;
  Shell?: string[]; StopSignal?: string; Healthcheck?: Record<string, unknown>; OnBuild?: string[];
};
type History = NonNullable<ImageConfig['history']>[number];

/** The state of a stage while its instructions run. */
interface StageState {
  layers: BuildLayer[];
  config: RuntimeConfig;
  history: History[];
  /** Declared ARGs with their values (undefined = declared, no value). */
  args: Map<string, string | undefined>;
  author?: string;
  /** ONBUILD triggers of the base image, run first. */
  triggers?: string[];
  /** CMD was set in this stage (an ENTRYPOINT then keeps it). */
  cmdSet?: boolean;
  /** Latest creation time of a step (cached steps keep theirs, so a cached rebuild gives the same image). */
  created: string;
}

interface Ctx {
  store: BuildStore;
  req: BuildRequest;
  df: Dockerfile;
  file: string;
  context?: BuildContext;
  cache: BuildCache;
  /** The build's temporary directory under `<root>/build-tmp`, made when a step first runs. */
  tmp?: string;
  globalArgs: Map<string, string | undefined>;
  usedArgs: Set<string>;
  results: Map<number, StageState>;
  /** Content hashes of context files, kept across builds. */
  hashes: FileHashMemo;
  /** Leases on the layers this build made or reused, released when it ends. */
  leases: { release: () => Promise<void> }[];
  step: number;
  progress: (line: string) => void;
  /** Network of RUN steps without --network (build.network). */
  network: RunNetworkMode;
  networks: BuildNetworks;
  /** What the build reads, for the build memo (memo.ts), when it may be remembered. */
  notes?: MemoNotes;
}

function fail(ctx: Ctx, ins: { line: number }, message: string, hint?: string, details?: string[]): TsstackError {
  return new TsstackError('IMAGE', `${ctx.file}:${ins.line}: ${message}`, { hint, location: { file: ctx.file, line: ins.line }, details });
}

function envMap(env: string[] | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const kv of env ?? []) {
    const eq = kv.indexOf('=');
    if (eq > 0) m.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  return m;
}

/** Variables visible to word expansion: declared ARGs with values, overridden by ENV. */
function expansionEnv(st: StageState): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, v] of st.args) if (v !== undefined) m.set(k, v);
  for (const [k, v] of envMap(st.config.Env)) m.set(k, v);
  return m;
}

function expand(ctx: Ctx, ins: { line: number }, word: string, env: Map<string, string>): string {
  try { return expandWord(word, env, ctx.df.escapeToken); } catch (e) {
    if (e instanceof ShellExpansionError) throw fail(ctx, ins, e.message);
    throw e;
  }
}

function expandList(ctx: Ctx, ins: { line: number }, words: string[], env: Map<string, string>): string[] {
  try { return words.flatMap((w) => expandWords(w, env, ctx.df.escapeToken)); } catch (e) {
    if (e instanceof ShellExpansionError) throw fail(ctx, ins, e.message);
    throw e;
  }
}

function setEnv(env: string[] | undefined, key: string, value: string): string[] {
  const out = (env ?? []).filter((kv) => !kv.startsWith(key + '='));
  out.push(`${key}=${value}`);
  return out;
}

function now(): string {
  const epoch = process.env.SOURCE_DATE_EPOCH;
  return epoch && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000).toISOString() : new Date().toISOString();
}

// ---------------------------------------------------------------- entry point

/** Builds the image `req` describes into `store`; returns it (named by `req.tags`). */
export async function buildImage(store: BuildStore, req: BuildRequest, notes?: MemoNotes): Promise<ImageInfo> {
  const shown = req.onProgress ?? ((): void => undefined);
  const progress = notes ? (l: string): void => { notes.lines.push(l); shown(l); } : shown;
  const { text, file, path: dfPath } = readDockerfile(req);
  if (notes && dfPath !== undefined) notes.dockerfile = textSum(text);
  const df = parseDockerfileText(text, file);
  for (const w of df.warnings) progress(`WARN: ${w}`);
  const syntax = df.directives.syntax;
  if (syntax !== undefined && !/^(docker\.io\/)?docker\/dockerfile(-upstream)?(:|@|$)/.test(syntax)) {
    progress(`WARN: ${file}:1: "# syntax=${syntax}" is ignored: tsstack parses Dockerfiles itself`);
  }
  const network = req.network ?? 'default';
  if (!(RUN_NETWORK_MODES as readonly string[]).includes(network)) {
    throw new TsstackError('IMAGE', `build network "${network}" is not supported`, { hint: 'use default (a network of the build\'s own), none or host' });
  }
  if (network === 'host') progress('WARN: build.network: host: RUN steps run on the host\'s network and can reach its local services');
  const context = openContext(resolve(req.context), dfPath);
  if (notes && context) { context.reads = notes.reads; notes.ignore = textSum(context.ignoreText); }
  await cleanStaleBuilds(join(store.root, 'build-tmp'));
  const ctx: Ctx = {
    store, req, df, file,
    context,
    cache: new BuildCache(store),
    globalArgs: new Map(),
    usedArgs: new Set(),
    results: new Map(),
    leases: [],
    hashes: new FileHashMemo(context ? FileHashMemo.pathFor(store.root, context.dir) : undefined),
    step: 0,
    progress,
    network: network as RunNetworkMode,
    networks: new BuildNetworks(store.root, store.runRoot ?? join(store.root, 'run')),
    notes,
  };
  try {
    for (const [k, v] of platformArgs()) ctx.globalArgs.set(k, v);
    for (const a of df.metaArgs) {
      for (const d of a.args) {
        const env = globalArgEnv(ctx);
        let v: string | undefined;
        if (Object.hasOwn(req.args, d.key)) { v = req.args[d.key]; ctx.usedArgs.add(d.key); } else if (d.value !== undefined) v = expand(ctx, a, d.value, env);
        ctx.globalArgs.set(d.key, v);
      }
    }
    const target = targetStage(ctx);
    const needed = neededStages(ctx, target);
    let final: StageState | undefined;
    for (const st of df.stages) {
      if (!needed.has(st.index)) continue;
      final = await buildStage(ctx, st);
      ctx.results.set(st.index, final);
    }
    const unused = Object.keys(req.args).filter((k) => !ctx.usedArgs.has(k) && !PREDEFINED_ARGS.has(k)).sort();
    if (unused.length) progress(`WARN: one or more build args were not consumed: ${unused.join(', ')}`);
    return await commitImage(ctx, final!);
  } finally {
    try { ctx.hashes.save(); } catch { /* a cache, not state */ }
    for (const l of ctx.leases) await l.release().catch(() => undefined);
    context?.close();
    await ctx.networks.close().catch((e: unknown) => progress(`WARN: removing the build network failed: ${(e as Error).message}`));
    if (ctx.tmp) await rm(ctx.tmp, { recursive: true, force: true });
  }
}

/** The build's temporary directory, made on first use (a fully cached build makes none). */
async function buildTmp(ctx: Ctx): Promise<string> {
  if (ctx.tmp) return ctx.tmp;
  await mkdir(join(ctx.store.root, 'build-tmp'), { recursive: true });
  ctx.tmp = await mkdtemp(join(ctx.store.root, 'build-tmp', `b-${process.pid}-`));
  return ctx.tmp;
}

function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/**
 * Removes what builds of dead processes left in `dir` (a killed build keeps
 * its step mounts and temp dirs): unmounts below them, deepest first, then
 * deletes them. Builds of live processes are left alone.
 */
async function cleanStaleBuilds(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const stale = names.filter((n) => {
    const m = /^b-(\d+)-/.exec(n);
    return m !== null && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]));
  });
  if (stale.length === 0) return;
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const mountPoints = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter(Boolean);
  for (const n of stale) {
    const base = join(dir, n) + '/';
    for (const mp of mountPoints.filter((p) => p.startsWith(base)).sort((a, b) => b.length - a.length)) {
      await promisify(execFile)('umount', ['-l', mp]).catch(() => undefined);
    }
    await rm(join(dir, n), { recursive: true, force: true }).catch(() => undefined);
  }
}

function openContext(dir: string, dockerfile?: string): BuildContext | undefined {
  if (!existsSync(dir)) return undefined;
  try { return BuildContext.open(dir, dockerfile); } catch (e) {
    if (e instanceof IgnoreSyntaxError) throw new TsstackError('IMAGE', `${dir}/.dockerignore: ${e.message}`, { hint: 'fix the pattern (Go filepath.Match syntax, ** and ! allowed)' });
    throw e;
  }
}

/**
 * BuildKit's automatic platform ARGs (BUILDPLATFORM, TARGETARCH, …): visible
 * in FROM lines, and in a stage that declares them. Build and target are both
 * the host: tsstack builds for the platform it runs on.
 */
function platformArgs(): [string, string][] {
  const p = hostPlatform();
  const platform = `${p.os}/${p.architecture}${p.variant ? '/' + p.variant : ''}`;
  const out: [string, string][] = [];
  for (const side of ['BUILD', 'TARGET']) {
    out.push([`${side}PLATFORM`, platform], [`${side}OS`, p.os], [`${side}ARCH`, p.architecture], [`${side}VARIANT`, p.variant ?? '']);
  }
  return out;
}

function readDockerfile(req: BuildRequest): { text: string; file: string; path?: string } {
  if (req.dockerfileInline !== undefined) return { text: req.dockerfileInline, file: 'Dockerfile' };
  const name = req.dockerfile ?? 'Dockerfile';
  // A Dockerfile outside the context is allowed (as Compose does); a symlink to it is followed only inside its directory.
  const path = isAbsolute(name) ? name : join(req.context, name);
  const text = readFileInItsDir(path);
  if (text === undefined) {
    throw new TsstackError('IMAGE', `cannot read the Dockerfile ${path}`, { hint: 'check build.context and build.dockerfile (a symlink is followed only inside the Dockerfile\'s directory)', location: { file: path } });
  }
  return { text, file: name, path };
}

/** Values of the ARGs declared before the first FROM (what FROM lines and --from see). */
function globalArgEnv(ctx: Ctx): Map<string, string> {
  return new Map([...ctx.globalArgs].filter((e): e is [string, string] => e[1] !== undefined));
}

function stageByName(ctx: Ctx, name: string): Stage | undefined {
  const n = name.toLowerCase();
  const byName = ctx.df.stages.find((s) => s.name === n);
  if (byName) return byName;
  if (/^\d+$/.test(name)) return ctx.df.stages[Number(name)];
  return undefined;
}

function targetStage(ctx: Ctx): Stage {
  const t = ctx.req.target;
  if (t === undefined || t === '') return ctx.df.stages[ctx.df.stages.length - 1]!;
  const s = ctx.df.stages.find((x) => x.name === t.toLowerCase());
  if (!s) {
    const names = ctx.df.stages.map((x) => x.name).filter(Boolean);
    throw new TsstackError('IMAGE', `${ctx.file}: target stage "${t}" could not be found`, { hint: names.length ? `stages are: ${names.join(', ')}` : 'name stages with FROM … AS <name>' });
  }
  return s;
}

/** Indexes of the stages the target depends on (FROM <stage>, COPY --from=<stage>), itself included. */
function neededStages(ctx: Ctx, target: Stage): Set<number> {
  const out = new Set<number>();
  const globalEnv = globalArgEnv(ctx);
  const visit = (s: Stage): void => {
    if (out.has(s.index)) return;
    out.add(s.index);
    const base = stageByName(ctx, expand(ctx, s.from, s.from.image, globalEnv));
    if (base && base.index < s.index) visit(base);
    for (const c of s.commands) {
      const froms = (c.kind === 'COPY' || c.kind === 'ADD') && c.from !== undefined ? [c.from]
        : c.kind === 'RUN' ? c.mounts.flatMap((m) => { try { const x = parseRunMount(m); return x.type === 'bind' && x.from ? [x.from] : []; } catch { return []; } })
          : [];
      for (const f of froms) {
        const dep = stageByName(ctx, f);
        if (dep && dep.index < s.index) visit(dep);
        else if (dep) throw fail(ctx, c, `--from=${f} refers to a later stage`, 'a stage can only use stages above it');
      }
    }
  };
  visit(target);
  return out;
}

// ---------------------------------------------------------------- stages

async function baseState(ctx: Ctx, st: Stage): Promise<StageState> {
  const globalEnv = globalArgEnv(ctx);
  const image = expand(ctx, st.from, st.from.image, globalEnv);
  if (image === '') throw fail(ctx, st.from, `base name (${st.from.image}) should not be blank`, 'give the ARG used in FROM a value, or pass it with --build-arg');
  const dep = stageByName(ctx, image);
  if (dep && dep.index < st.index) {
    const r = ctx.results.get(dep.index)!;
    return { layers: [...r.layers], config: structuredClone(r.config), history: [...r.history], args: new Map(), author: r.author, created: r.created };
  }
  if (image.toLowerCase() === 'scratch') return { layers: [], config: {}, history: [], args: new Map(), created: '' };
  let info: ImageInfo;
  try {
    info = await ensureNoted(ctx, image);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw fail(ctx, st.from, `base image "${image}": ${msg}`, e instanceof TsstackError ? e.hint : undefined);
  }
  const rec = ctx.store.record(info.id)!;
  const cfg = await ctx.store.config(info.id);
  const layers = rec.layers.map((l, i) => ({ ...l, chainId: rec.chainIds[i]! }));
  const config = structuredClone((cfg.config ?? {}) as RuntimeConfig);
  const triggers = config.OnBuild ?? [];
  delete config.OnBuild;
  return { layers, config, history: [...(cfg.history ?? [])], args: new Map(), author: cfg.author, created: cfg.created ?? '', triggers };
}

async function buildStage(ctx: Ctx, st: Stage): Promise<StageState> {
  const total = st.commands.length + 1;
  const label = (i: number): string => `[${st.name ? st.name + ' ' : ''}${i}/${total}]`;
  const n = ++ctx.step;
  ctx.progress(`#${n} ${label(1)} FROM ${expand(ctx, st.from, st.from.image, globalArgEnv(ctx))}${st.name ? ' AS ' + st.name : ''}`);
  if (st.from.platform !== undefined) {
    const want = expand(ctx, st.from, st.from.platform, globalArgEnv(ctx));
    const host = globalArgEnv(ctx).get('TARGETPLATFORM')!;
    if (want !== host && !host.startsWith(want + '/') && !want.startsWith(host + '/')) {
      ctx.progress(`WARN: ${ctx.file}:${st.from.line}: FROM --platform=${want} is ignored: tsstack builds for ${host}`);
    }
  }
  const state = await baseState(ctx, st);
  for (const trigger of state.triggers ?? []) {
    let ins: Instruction;
    try {
      const node = nodeFromLine(trigger, ctx.df.escapeToken);
      node.startLine = node.endLine = st.from.line;
      ins = toInstruction(node);
    } catch (e) {
      throw fail(ctx, st.from, `ONBUILD trigger "${trigger}" of the base image: ${(e as Error).message}`);
    }
    await runInstruction(ctx, st, state, ins, '[ONBUILD]');
  }
  delete state.triggers;
  for (let i = 0; i < st.commands.length; i++) {
    const ins = st.commands[i]!;
    await runInstruction(ctx, st, state, ins, label(i + 2));
  }
  return state;
}

function summary(ins: Instruction): string {
  const s = ins.original.trim().replace(/\s+/g, ' ');
  return s.length > 120 ? s.slice(0, 117) + '...' : s;
}

async function runInstruction(ctx: Ctx, st: Stage, state: StageState, ins: Instruction, label: string): Promise<void> {
  const env = expansionEnv(state);
  const cfg = state.config;
  const meta = (): void => { state.history.push({ created_by: `${ins.kind} ${summary(ins).replace(/^\S+\s*/, '')}`, empty_layer: true, comment: 'tsstack.dockerfile.v0' }); };
  switch (ins.kind) {
    case 'ARG':
      for (const d of ins.args) {
        let v: string | undefined;
        if (Object.hasOwn(ctx.req.args, d.key)) { v = ctx.req.args[d.key]; ctx.usedArgs.add(d.key); } else if (d.value !== undefined) v = expand(ctx, ins, d.value, expansionEnv(state));
        else v = ctx.globalArgs.get(d.key);
        state.args.set(d.key, v);
      }
      meta();
      return;
    case 'ENV': {
      let e = cfg.Env;
      for (const p of ins.pairs) e = setEnv(e, expand(ctx, ins, p.key, env), expand(ctx, ins, p.value, env));
      cfg.Env = e;
      meta();
      return;
    }
    case 'LABEL': {
      const labels = { ...(cfg.Labels ?? {}) };
      for (const p of ins.pairs) labels[expand(ctx, ins, p.key, env)] = expand(ctx, ins, p.value, env);
      cfg.Labels = labels;
      meta();
      return;
    }
    case 'WORKDIR': {
      const w = expand(ctx, ins, ins.value, env);
      cfg.WorkingDir = posix.resolve(cfg.WorkingDir || '/', w);
      meta();
      return;
    }
    case 'USER': cfg.User = expand(ctx, ins, ins.value, env); meta(); return;
    case 'STOPSIGNAL': cfg.StopSignal = expand(ctx, ins, ins.value, env); meta(); return;
    case 'MAINTAINER': state.author = ins.value; meta(); return;
    case 'SHELL': cfg.Shell = ins.shell; meta(); return;
    case 'CMD':
      cfg.Cmd = ins.json ? ins.cmd : [...(cfg.Shell ?? DEFAULT_SHELL), ins.cmd.join(' ')];
      state.cmdSet = true;
      meta();
      return;
    case 'ENTRYPOINT':
      cfg.Entrypoint = ins.json ? ins.cmd : [...(cfg.Shell ?? DEFAULT_SHELL), ins.cmd.join(' ')];
      // An ENTRYPOINT drops a CMD inherited from the base image, as Docker does.
      if (!state.cmdSet) delete cfg.Cmd;
      meta();
      return;
    case 'EXPOSE': {
      const ports = { ...(cfg.ExposedPorts ?? {}) };
      for (const p of expandList(ctx, ins, ins.values, env)) for (const k of exposeKeys(ctx, ins, p)) ports[k] = {};
      cfg.ExposedPorts = ports;
      meta();
      return;
    }
    case 'VOLUME': {
      const vols = { ...(cfg.Volumes ?? {}) };
      for (const v of ins.json ? ins.values.map((x) => expand(ctx, ins, x, env)) : expandList(ctx, ins, ins.values, env)) {
        if (v.trim() === '') throw fail(ctx, ins, 'VOLUME specified can not be an empty string');
        vols[v] = {};
      }
      cfg.Volumes = vols;
      meta();
      return;
    }
    case 'HEALTHCHECK':
      cfg.Healthcheck = healthcheckConfig(ins);
      meta();
      return;
    case 'ONBUILD': cfg.OnBuild = [...(cfg.OnBuild ?? []), ins.expression]; meta(); return;
    case 'RUN': return layerStep(ctx, state, ins, label, () => runKey(ctx, st, state, ins), (root, dir) => doRun(ctx, st, state, ins, root, dir));
    case 'COPY':
    case 'ADD': return copyStep(ctx, st, state, ins, label);
    case 'FROM': throw fail(ctx, ins, 'unexpected FROM');
  }
}

function exposeKeys(ctx: Ctx, ins: Instruction, spec: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(spec);
  if (!m) throw fail(ctx, ins, `invalid port "${spec}" in EXPOSE`, 'use PORT[/PROTO] or START-END[/PROTO]');
  const lo = Number(m[1]);
  const hi = m[2] !== undefined ? Number(m[2]) : lo;
  const proto = (m[3] ?? 'tcp').toLowerCase();
  if (hi < lo || hi > 65535) throw fail(ctx, ins, `invalid port range "${spec}" in EXPOSE`);
  const out: string[] = [];
  for (let p = lo; p <= hi; p++) out.push(`${p}/${proto}`);
  return out;
}

// ---------------------------------------------------------------- layer steps

function parentChain(state: StageState): string {
  return state.layers[state.layers.length - 1]?.chainId ?? 'scratch';
}

/**
 * Runs one filesystem step: cache lookup, else mount the chain, `act` on the
 * mounted root, and commit the upper dir as a layer (none when empty).
 */
async function layerStep(ctx: Ctx, state: StageState, ins: Instruction, label: string, key: () => Promise<Record<string, unknown>> | Record<string, unknown>, act: (root: string, dir: string) => Promise<void>): Promise<void> {
  const n = ++ctx.step;
  ctx.progress(`#${n} ${label} ${summary(ins)}`);
  const started = Date.now();
  const k = cacheKey({ v: 1, parent: parentChain(state), ...(await key()) });
  const createdBy = `${ins.kind} ${summary(ins).replace(/^\S+\s*/, '')}`;
  if (!ctx.req.noCache) {
    const hit = ctx.cache.get(k);
    if (hit) {
      ctx.progress(`#${n} CACHED`);
      await lease(ctx, hit.layer);
      applyLayer(state, hit.layer, hit.created, createdBy);
      return;
    }
  }
  if (ctx.notes) ctx.notes.ran = true;
  const dir = await mkdtemp(join(await buildTmp(ctx), 's-'));
  let layer: BuildLayer | undefined;
  try {
    const root = await ctx.store.mountLayers(state.layers.map((l) => l.chainId), dir);
    try {
      await act(root, dir);
    } finally {
      await ctx.store.unmountRootfs(dir);
    }
    const upper = join(dir, 'upper');
    if ((await readdir(upper)).length > 0) {
      const { packDirectory } = await import('../pack.js');
      layer = await ctx.store.addLayer(packDirectory(upper, { overlayWhiteouts: true }), state.layers[state.layers.length - 1]?.chainId);
    }
  } finally {
    await ctx.store.unmountRootfs(dir).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
  await lease(ctx, layer);
  const created = now();
  ctx.cache.put(k, { ...(layer ? { layer } : {}), created });
  applyLayer(state, layer, created, createdBy);
  ctx.progress(`#${n} DONE ${((Date.now() - started) / 1000).toFixed(1)}s`);
}

async function lease(ctx: Ctx, layer: BuildLayer | undefined): Promise<void> {
  if (layer && ctx.store.lease) ctx.leases.push(await ctx.store.lease({ blobs: [layer.digest], chainIds: [layer.chainId] }));
}

function applyLayer(state: StageState, layer: BuildLayer | undefined, created: string, createdBy: string): void {
  if (layer) state.layers.push(layer);
  state.history.push({ created, created_by: createdBy, comment: 'tsstack.dockerfile.v0', ...(layer ? {} : { empty_layer: true }) });
  if (created > state.created) state.created = created;
}

// ---------------------------------------------------------------- RUN

/**
 * The argv of a RUN. With heredocs: a command that is only the marker runs
 * the body as its script (a body starting with `#!` is written to a temp
 * file and executed, then removed); otherwise the line and the bodies go to
 * the shell, which reads the heredocs itself.
 */
function runArgv(state: StageState, ins: CommandInstr): string[] {
  const shell = state.config.Shell ?? DEFAULT_SHELL;
  if (ins.json) return ins.cmd;
  const line = ins.cmd.join(' ');
  const [h, ...more] = ins.heredocs;
  if (!h) return [...shell, line];
  if (more.length === 0 && line.trim() === h.word) {
    if (!h.content.startsWith('#!')) return [...shell, h.content];
    const script = `f=/tmp/.tsstack-heredoc-$$; cat > "$f" <<'TSSTACK_HEREDOC_END'\n${h.content}TSSTACK_HEREDOC_END\nchmod 700 "$f"; "$f"; rc=$?; rm -f "$f"; exit $rc`;
    return [...shell, script];
  }
  return [...shell, line + '\n' + ins.heredocs.map((x) => x.raw).join('')];
}

/** Env for a RUN: declared ARGs (not persisted) under the image's ENV, PATH defaulted. */
function runEnv(state: StageState): string[] {
  const env = envMap(state.config.Env);
  const out: string[] = [];
  for (const [k, v] of [...state.args].sort(([a], [b]) => (a < b ? -1 : 1))) if (v !== undefined && !env.has(k)) out.push(`${k}=${v}`);
  out.push(...(state.config.Env ?? []));
  if (!env.has('PATH')) out.unshift(DEFAULT_PATH);
  return out;
}

function runMounts(ctx: Ctx, ins: CommandInstr): RunMount[] {
  try { return ins.mounts.map(parseRunMount); } catch (e) {
    if (e instanceof MountSpecError) throw fail(ctx, ins, e.message, 'supported: --mount=type=cache, type=bind (read-only), type=tmpfs');
    throw e;
  }
}

async function runKey(ctx: Ctx, st: Stage, state: StageState, ins: CommandInstr): Promise<Record<string, unknown>> {
  if (ins.network !== undefined && !['default', 'host', 'none'].includes(ins.network)) throw fail(ctx, ins, `RUN --network=${ins.network} is not supported`, 'use default, host or none');
  const mounts: unknown[] = [];
  for (const m of runMounts(ctx, ins)) {
    if (m.type !== 'bind') { mounts.push(m); continue; }
    if (m.from !== undefined) {
      const chain = await fromLayers(ctx, st, ins, 'RUN --mount from', m.from);
      mounts.push({ ...m, chain: chain[chain.length - 1] ?? 'scratch' });
    } else {
      if (!ctx.context) throw fail(ctx, ins, `RUN --mount=type=bind needs a build context, and ${ctx.req.context} does not exist`);
      const c = ctx.context;
      const sel = await guarded(ctx, ins, c, () => c.match(m.source));
      if (sel.length === 0) throw fail(ctx, ins, `RUN --mount: "${m.source}" not found in the build context`);
      mounts.push({ ...m, content: await guarded(ctx, ins, c, () => digestSelection(c, sel, ctx.hashes)) });
    }
  }
  return { op: 'run', argv: runArgv(state, ins), env: runEnv(state), user: state.config.User ?? '', cwd: state.config.WorkingDir ?? '/', network: ins.network ?? 'default', mounts };
}

/** Every directory from `/` down to `p`, deepest last (`/a/b` → `/a`, `/a/b`). */
function ancestry(p: string): string[] {
  const parts = posix.normalize(p).split('/').filter(Boolean);
  return parts.map((_, i) => '/' + parts.slice(0, i + 1).join('/'));
}

/** OCI mounts for a RUN's --mount flags; `cleanup` undoes what was mounted for them on the host. */
async function setupRunMounts(ctx: Ctx, st: Stage, ins: CommandInstr, bundle: string): Promise<{ mounts: OciMountInput[]; targets: string[]; cleanup: () => Promise<void> }> {
  const mounts: OciMountInput[] = [];
  const targets: string[] = [];
  const undo: (() => Promise<void>)[] = [];
  const cleanup = async (): Promise<void> => { for (const u of undo.reverse()) await u().catch(() => undefined); };
  try {
    for (const [i, m] of runMounts(ctx, ins).entries()) {
      targets.push(...ancestry(m.target));
      if (m.type === 'cache') {
        const dir = join(ctx.store.root, 'build-cache', 'mounts', createHash('sha256').update(m.id).digest('hex').slice(0, 32));
        if (!existsSync(dir)) {
          await mkdir(dir, { recursive: true });
          await chmod(dir, m.mode);
          await chown(dir, m.uid, m.gid);
        }
        mounts.push({ type: 'bind', source: dir, target: m.target, readOnly: m.readonly });
      } else if (m.type === 'tmpfs') {
        mounts.push({ type: 'tmpfs', target: m.target, ...(m.size !== undefined ? { size: m.size } : {}) });
      } else {
        // The source is resolved inside its root and held by fd; what the fd
        // holds is bind-mounted at a private staging path, which the runtime
        // binds in: no path is looked up again between the check and the mount.
        let from: BuildContext;
        if (m.from !== undefined) {
          const chain = await fromLayers(ctx, st, ins, 'RUN --mount from', m.from);
          const dir = join(bundle, `mount-${i}`);
          from = BuildContext.plain(await ctx.store.mountLayers(chain, dir));
          undo.push(() => ctx.store.unmountRootfs(dir));
          undo.push(async () => from.close());
        } else from = ctx.context!;
        const path = from.root.resolve(m.source);
        if (path === undefined) throw fail(ctx, ins, `RUN --mount: source "${m.source}" not found`);
        const staging = join(bundle, `bind-${i}`);
        const held = await guarded(ctx, ins, from, async () => from.root.pin(path));
        try {
          if (held.st.isDirectory()) await mkdir(staging);
          else await writeFile(staging, '');
          bindPinned(held.pinned, staging);
        } finally { held.close(); }
        undo.push(async () => unmountDetached(staging));
        mounts.push({ type: 'bind', source: staging, target: m.target, readOnly: true });
      }
    }
  } catch (e) {
    await cleanup();
    throw e;
  }
  return { mounts, targets, cleanup };
}

async function doRun(ctx: Ctx, st: Stage, state: StageState, ins: CommandInstr, root: string, bundle: string): Promise<void> {
  const { buildRunSpec, buildRuntime, missingMountTargets, removeCopiedUpDir, removeCreatedTargets, runContainer } = await import('./run-step.js');
  let user;
  try { user = resolveUser(root, state.config.User ?? ''); } catch (e) {
    if (e instanceof UserLookupError) throw fail(ctx, ins, e.message, 'add the user in an earlier RUN (adduser) or use a numeric uid');
    throw e;
  }
  // The working directory exists for the step (and so in its layer), as Docker makes it.
  const cwd = state.config.WorkingDir || '/';
  await mkdir(resolveInRoot(root, cwd), { recursive: true, mode: 0o755 });
  const mode = (ins.network ?? ctx.network) as RunNetworkMode;
  if (ins.network === 'host') ctx.progress(`WARN: ${ctx.file}:${ins.line}: RUN --network=host: this step runs on the host's network and can reach its local services`);
  const id = BuildNetworks.stepId();
  let net;
  try { net = await ctx.networks.forStep(mode); } catch (e) {
    throw fail(ctx, ins, `cannot give the step a network of its own: ${(e as Error).message}`, 'RUN --network=none runs a step with loopback only', e instanceof TsstackError ? e.details : undefined);
  }
  let res;
  const runtime = buildRuntime();
  try {
    // The step's /etc/resolv.conf and /etc/hosts, bound over the image's files, or where the image has
    // none (as BuildKit does; the empty file the runtime makes for it is taken out of the layer after).
    const binds = [];
    const bindTargets: string[] = [];
    for (const [f, text] of [['/etc/resolv.conf', net.resolvConf], ['/etc/hosts', net.hosts]] as const) {
      const isFile = await stat(resolveInRoot(root, f)).then((s) => s.isFile(), () => false);
      const absent = !isFile && await lstat(resolveInRoot(root, f, false)).then(() => false, () => true);
      if (!isFile && !absent) continue; // a directory, a device, a dangling link: left alone
      if (absent) bindTargets.push('/etc', f);
      if (text !== undefined) {
        const src = join(bundle, f.slice('/etc/'.length));
        await writeFile(src, text, { mode: 0o644 });
        binds.push({ source: src, target: f });
      } else if (existsSync(f)) binds.push({ source: f, target: f });
    }
    // Making a missing file in /etc copies /etc up into the layer: undone after the run unless the step changed it.
    const etcBefore = bindTargets.length && !existsSync(join(bundle, 'upper', 'etc')) ? await stat(resolveInRoot(root, '/etc')).catch(() => undefined) : undefined;
    const extra = await setupRunMounts(ctx, st, ins, bundle);
    const targets = await missingMountTargets(root, ['/proc', '/dev', '/sys', ...bindTargets, ...extra.targets]);
    const spec = buildRunSpec({ rootfs: root, args: runArgv(state, ins), env: runEnv(state), cwd, ...user, binds, mounts: extra.mounts, network: net.namespace });
    try {
      res = await runContainer(runtime, id, bundle, join(await buildTmp(ctx), 'runtime'), spec, (l) => ctx.progress(`#${ctx.step} ${l}`));
    } catch (e) {
      throw fail(ctx, ins, `cannot run the step with ${runtime}: ${(e as Error).message}`, 'install runc or build native/ (node scripts/build-native.mjs), or set TSSTACK_BUILD_RUNTIME');
    } finally {
      await extra.cleanup();
    }
    await removeCreatedTargets(join(bundle, 'upper'), targets);
    if (etcBefore) await removeCopiedUpDir(join(bundle, 'upper'), 'etc', etcBefore);
  } finally {
    await net.release();
  }
  if (res.exitCode !== 0) {
    const tail = res.output.trimEnd().split('\n').slice(-10);
    throw fail(ctx, ins, `RUN ${runArgv(state, ins).join(' ')} failed with exit code ${res.exitCode}`, 'see the step output above', tail);
  }
}

// ---------------------------------------------------------------- COPY / ADD

const URL_RE = /^(https?|git|ssh):\/\/|^git@/;

async function copyStep(ctx: Ctx, st: Stage, state: StageState, ins: CopyInstr, label: string): Promise<void> {
  const env = expansionEnv(state);
  const sources = ins.sources.map((s) => expand(ctx, ins, s, env));
  let dest = expand(ctx, ins, ins.dest, env);
  const trailing = dest.endsWith('/') || dest.endsWith('/.') || dest === '.';
  dest = posix.resolve(state.config.WorkingDir || '/', dest) + (trailing && dest !== '/' ? '/' : '');
  const chown = ins.chown !== undefined ? expand(ctx, ins, ins.chown, env) : undefined;
  const chmodText = ins.chmod !== undefined ? expand(ctx, ins, ins.chmod, env) : undefined;
  if (chmodText !== undefined && !/^[0-7]{3,4}$/.test(chmodText)) throw fail(ctx, ins, `invalid --chmod=${chmodText}`, 'give an octal mode such as 755 or 0644');
  const mode = chmodText !== undefined ? parseInt(chmodText, 8) : undefined;
  if (ins.kind === 'ADD') {
    const url = sources.find((s) => URL_RE.test(s));
    if (url) throw fail(ctx, ins, `ADD ${url}: tsstack does not download ADD sources`, 'download the file into the build context and COPY it, or fetch it in a RUN step');
  }
  const multi = sources.length > 1 || sources.some((s) => /[*?[]/.test(s));
  if (ins.kind === 'COPY' && ins.parents) throw fail(ctx, ins, 'COPY --parents is not supported by tsstack', 'copy each directory with its own COPY');
  let exclude: IgnoreMatcher | undefined;
  try {
    const patterns = ins.excludes.map((x) => expand(ctx, ins, x, env));
    if (patterns.length) exclude = new IgnoreMatcher(parseDockerignore(patterns.join('\n')));
  } catch (e) {
    if (e instanceof IgnoreSyntaxError) throw fail(ctx, ins, `--exclude: ${e.message}`);
    throw e;
  }

  // --from: another stage or an image, mounted for the step.
  let fromChain: string[] | undefined;
  let fromKey: string | undefined;
  if (ins.from !== undefined) {
    fromChain = await fromLayers(ctx, st, ins, `${ins.kind} --from`, ins.from);
    fromKey = fromChain[fromChain.length - 1] ?? 'scratch';
  } else if (!ctx.context) {
    throw fail(ctx, ins, `${ins.kind} needs a build context, and ${ctx.req.context} does not exist`);
  }

  // Heredoc sources: files named after the delimiter, body expanded unless the delimiter was quoted.
  const inline = new Map<string, { name: string; content: string }>();
  for (const h of ins.heredocs) {
    let content = h.content;
    if (h.expand) {
      try { content = expandHeredoc(h.content, env, ctx.df.escapeToken); } catch (e) {
        if (e instanceof ShellExpansionError) throw fail(ctx, ins, e.message);
        throw e;
      }
    }
    inline.set(h.word, { name: h.name, content });
  }
  const fileSources = ins.sources.filter((s) => !inline.has(s)).map((s) => expand(ctx, ins, s, env));
  const inlineSources = ins.sources.filter((s) => inline.has(s)).map((s) => inline.get(s)!);
  if (inlineSources.length && fromKey !== undefined) throw fail(ctx, ins, `${ins.kind} --from cannot take heredoc sources`);

  const key = async (): Promise<Record<string, unknown>> => {
    const base = { op: ins.kind, dest, chown: chown ?? '', mode: mode ?? -1, multi, exclude: ins.excludes, inline: inlineSources };
    if (fromKey !== undefined) return { ...base, from: fromKey, sources };
    return guarded(ctx, ins, ctx.context!, async () => {
      const entries = [];
      for (const s of fileSources) {
        const m = (await ctx.context!.match(s)).filter((x) => !exclude?.ignored(posix.basename(x.rel)));
        if (m.length === 0) throw notFound(ctx, ins, s);
        entries.push(...m);
      }
      return { ...base, content: await digestSelection(ctx.context!, entries, ctx.hashes), names: entries.map((e) => e.rel) };
    });
  };

  await layerStep(ctx, state, ins, label, key, async (root, dir) => {
    const owner = chown !== undefined ? resolveChownOr(ctx, ins, root, chown) : undefined;
    let srcs: CopySource[];
    let fromDir: string | undefined;
    if (fromChain) {
      fromDir = join(dir, 'from');
      const fromRoot = BuildContext.plain(await ctx.store.mountLayers(fromChain, fromDir));
      try {
        srcs = await sourcesFromRoot(ctx, ins, fromRoot, sources, exclude);
        await guarded(ctx, ins, fromRoot, () => copyOrFail(ctx, ins, root, dest, srcs, { owner, mode, multi }));
      } finally {
        fromRoot.close();
        await ctx.store.unmountRootfs(fromDir);
      }
      return;
    }
    srcs = await sourcesFromContext(ctx, ins, fileSources, exclude);
    for (const [i, f] of inlineSources.entries()) {
      const p = join(dir, `heredoc-${i}`);
      await mkdir(p);
      await writeFile(join(p, f.name), f.content, { mode: 0o644 });
      srcs.push({ abs: join(p, f.name), name: f.name, st: await stat(join(p, f.name)) });
    }
    if (ins.kind === 'ADD') {
      const { extractArchive, isArchive } = await import('./archive.js');
      const { listTree } = await import('./copy.js');
      const plain: CopySource[] = [];
      for (const s of srcs) {
        const out = join(dir, `extract-${plain.length}-${randomBytes(4).toString('hex')}`);
        const read = <T>(fn: (p: string) => Promise<T>): Promise<T> => (s.reader ? ctx.context!.root.withFile(s.abs, fn) : fn(s.abs));
        if (s.st.isFile() && await guarded(ctx, ins, ctx.context!, () => read(async (p) => (await isArchive(p)) && (await extractArchive(p, out), true)))) {
          const destDir = dest.endsWith('/') ? dest : dest + '/';
          await copyOrFail(ctx, ins, root, destDir, [{ abs: out, name: s.name, st: await stat(out), children: () => listTree(out) }], { owner, mode, multi: false });
        } else plain.push(s);
      }
      srcs = plain;
      if (srcs.length === 0) return;
    }
    await guarded(ctx, ins, ctx.context!, () => copyOrFail(ctx, ins, root, dest, srcs, { owner, mode, multi }));
  });
}

/** The layer chain of a stage above `st` or of an image named `from` (pulled when missing). */
async function fromLayers(ctx: Ctx, st: Stage, ins: Instruction, what: string, fromRaw: string): Promise<string[]> {
  const from = expand(ctx, ins, fromRaw, globalArgEnv(ctx));
  const dep = stageByName(ctx, from);
  if (dep && dep.index < st.index) return ctx.results.get(dep.index)!.layers.map((l) => l.chainId);
  try {
    return (await ensureNoted(ctx, from)).chainIds;
  } catch (e) {
    throw fail(ctx, ins, `${what}=${from}: no stage or image of that name: ${(e as Error).message}`, 'name a stage defined above (FROM … AS name) or an image');
  }
}

/** A base or --from image, noted for the memo (one that had to be pulled makes the build not remembered). */
async function ensureNoted(ctx: Ctx, ref: string): Promise<ImageInfo> {
  const before = ctx.notes?.lines.length;
  const info = await ctx.store.ensure(ref, 'missing', ctx.progress);
  if (ctx.notes) {
    ctx.notes.bases.set(ref, info.id);
    if (ctx.notes.lines.length !== before) ctx.notes.ran = true;
  }
  return info;
}

function notFound(ctx: Ctx, ins: CopyInstr, src: string): TsstackError {
  return fail(ctx, ins, `${ins.kind} failed: "${src}" not found in the build context`, 'check the path (relative to the context) and that .dockerignore does not exclude it');
}

function resolveChownOr(ctx: Ctx, ins: CopyInstr, root: string, chown: string): { uid: number; gid: number } {
  try { return resolveChown(root, chown); } catch (e) {
    if (e instanceof UserLookupError) throw fail(ctx, ins, `--chown=${chown}: ${e.message}`);
    throw e;
  }
}

async function copyOrFail(ctx: Ctx, ins: CopyInstr, root: string, dest: string, srcs: CopySource[], opts: Parameters<typeof import('./copy.js').copyInto>[3]): Promise<void> {
  const { copyInto, CopyError } = await import('./copy.js');
  try { await copyInto(root, dest, srcs, opts); } catch (e) {
    if (e instanceof CopyError) throw fail(ctx, ins, e.message);
    throw e;
  }
}

/** Drops entries `--exclude` patterns match (paths relative to the source). */
function excluded<T extends { rel: string }>(list: T[], exclude?: IgnoreMatcher): T[] {
  return exclude ? list.filter((x) => !exclude.ignored(x.rel)) : list;
}

async function sourcesFromContext(ctx: Ctx, ins: CopyInstr, sources: string[], exclude?: IgnoreMatcher): Promise<CopySource[]> {
  const c = ctx.context!;
  const out: CopySource[] = [];
  for (const s of sources) {
    const m = (await guarded(ctx, ins, c, () => c.match(s))).filter((x) => !exclude?.ignored(posix.basename(x.rel)));
    if (m.length === 0) throw notFound(ctx, ins, s);
    out.push(...c.sources(m, exclude));
  }
  return out;
}

/** Sources inside another root (a stage or an image), resolved as that root sees its paths. */
async function sourcesFromRoot(ctx: Ctx, ins: CopyInstr, root: BuildContext, sources: string[], exclude?: IgnoreMatcher): Promise<CopySource[]> {
  const out: CopySource[] = [];
  for (const s of sources) {
    const m = await guarded(ctx, ins, root, () => root.match(s));
    if (m.length === 0) throw fail(ctx, ins, `${ins.kind} --from=${ins.from} failed: "${s}" not found`, 'check the path in the source stage or image');
    out.push(...root.sources(m.filter((x) => !exclude?.ignored(posix.basename(x.rel))), exclude));
  }
  return out;
}

/**
 * Runs a read of a context (or stage root) and turns a link that appeared
 * while it was read into a build error: the source is never followed out.
 */
async function guarded<T>(ctx: Ctx, ins: Instruction, c: BuildContext, read: () => Promise<T>): Promise<T> {
  try { return await read(); } catch (e) {
    if (e instanceof SafeRootError && e.changed) {
      throw fail(ctx, ins, `${c.dir} changed while it was read: a symbolic link appeared at ${e.path}`, 'do not modify the build context during a build; it was not copied');
    }
    if (e instanceof SafeRootError) {
      const hint = e.code === 'ENOSYS' ? 'tsstack reads build contexts with openat2 (Linux 5.6 or later)' : 'check the path and its permissions';
      throw fail(ctx, ins, `cannot read ${c.hostPath(e.path)}: ${e.code}`, hint);
    }
    throw e;
  }
}

// ---------------------------------------------------------------- commit

async function commitImage(ctx: Ctx, st: StageState): Promise<ImageInfo> {
  const cfg = structuredClone(st.config);
  if (Object.keys(ctx.req.labels).length) cfg.Labels = { ...(cfg.Labels ?? {}), ...ctx.req.labels };
  if (!cfg.Env || !cfg.Env.some((e) => e.startsWith('PATH='))) cfg.Env = [DEFAULT_PATH, ...(cfg.Env ?? [])];
  const plat = hostPlatform();
  const created = st.created || now();
  const history = st.history.map((h) => ({ ...h, created: h.created || created }));
  // The store adds one empty layer to an image without layers; its history needs an entry for it.
  if (st.layers.length === 0) history.push({ created, created_by: 'scratch (empty layer)', comment: 'tsstack.dockerfile.v0' });
  const info = await ctx.store.commit({
    config: {
      created, architecture: plat.architecture, os: plat.os, ...(plat.variant ? { variant: plat.variant } : {}),
      ...(st.author ? { author: st.author } : {}),
      config: cfg, history,
    },
    layers: st.layers.map(({ chainId: _c, ...l }) => l),
    names: ctx.req.tags,
  });
  ctx.progress(`#${++ctx.step} writing image ${info.id}${ctx.req.tags.length ? ' naming ' + ctx.req.tags.join(', ') : ''}`);
  return info;
}
