// Image commands: build, pull, push, image ls|rm|prune|inspect|load|save|import|pull|push.

import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ImageApi, ImageInfo } from '../../engine/api.js';
import { TsstackError } from '../../util/errors.js';
import type { Context } from '../context.js';
import { table } from '../render.js';
import { pushOne } from './build.js';

// `build` lives in build.ts (a cached rebuild loads that module alone); its other callers find it here too
export { runBuild } from './build.js';

function size(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}kB`;
  return `${n}B`;
}

export async function runPull(ctx: Context, services: string[], o: { quiet?: boolean; ignorePullFailures?: boolean }): Promise<number> {
  const model = await ctx.loadModel();
  const engine = await ctx.openEngine();
  const names = (services.length ? services : Object.keys(model.services)).sort();
  const refs = new Set<string>();
  for (const n of names) {
    const svc = model.services[n];
    if (!svc) throw new TsstackError('NOT_FOUND', `no such service: ${n}`);
    if (svc.image && !(svc.build && svc.pull_policy === 'build')) refs.add(svc.image);
  }
  const failures: string[] = [];
  await Promise.all([...refs].sort().map(async (r) => {
    try {
      await engine.images.pull(r, o.quiet ? undefined : (l) => ctx.io.err(`${r}  ${l}`));
      if (!o.quiet) ctx.io.err(`${r}  Pulled`);
    } catch (e) {
      failures.push(`${r}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }));
  if (failures.length && !o.ignorePullFailures) throw new TsstackError('IMAGE', failures.length === 1 ? failures[0] : `${failures.length} pulls failed`, { details: failures.length > 1 ? failures : [] });
  for (const f of failures) ctx.io.err(`warning: ${f}`);
  return 0;
}

/** `push [SERVICE…]`: each named service's `image:` (the services without one have nothing to push to). */
export async function runPush(ctx: Context, services: string[], o: { quiet?: boolean; ignorePushFailures?: boolean }): Promise<number> {
  const model = await ctx.loadModel();
  const names = (services.length ? services : Object.keys(model.services)).sort();
  const refs = new Set<string>();
  for (const n of names) {
    const svc = model.services[n];
    if (!svc) throw new TsstackError('NOT_FOUND', `no such service: ${n}`);
    if (svc.image) refs.add(svc.image);
    else if (services.length) ctx.io.err(`${n}: no image: name, nothing to push (give the service an image: REGISTRY/REPO:TAG)`);
  }
  const engine = await ctx.openEngine();
  const failures: { ref: string; error: unknown }[] = [];
  for (const r of [...refs].sort()) {
    try { await pushOne(ctx, engine.images, r, !!o.quiet); } catch (error) { failures.push({ ref: r, error }); }
  }
  const say = (f: { ref: string; error: unknown }): string => `${f.ref}: ${f.error instanceof Error ? f.error.message : String(f.error)}`;
  if (o.ignorePushFailures) {
    for (const f of failures) ctx.io.err(`warning: ${say(f)}`);
    return 0;
  }
  // One failure keeps its own error (and exit code: 3 never built, 5 registry).
  if (failures.length === 1) throw failures[0]!.error;
  if (failures.length) throw new TsstackError('IMAGE', `${failures.length} of ${refs.size} pushes failed`, { details: failures.map(say) });
  return 0;
}

/** `image push REF`: prints the pushed digest. */
export async function imagePush(ctx: Context, ref: string, o: { quiet?: boolean } = {}): Promise<number> {
  const engine = await ctx.openEngine();
  const r = await engine.images.push(ref, o.quiet ? undefined : (l) => ctx.io.err(l));
  ctx.io.out(r.digest);
  return 0;
}

export async function imageLs(ctx: Context, o: { quiet?: boolean; format?: string }): Promise<number> {
  const engine = await ctx.openEngine();
  const images = (await engine.images.list()).sort((a, b) => ((a.names[0] ?? a.id) < (b.names[0] ?? b.id) ? -1 : 1));
  if (o.quiet) {
    for (const i of images) ctx.io.out(i.id);
    return 0;
  }
  if (o.format === 'json') {
    ctx.io.out(JSON.stringify(images.map((i) => ({ ID: i.id, Names: i.names, Digest: i.digest ?? '', Size: i.size, Created: i.created ?? '' }))));
    return 0;
  }
  const rows: string[][] = [['NAME', 'IMAGE ID', 'SIZE', 'CREATED']];
  for (const i of images) for (const n of i.names.length ? i.names : ['<none>']) rows.push([n, i.id.replace(/^sha256:/, '').slice(0, 12), size(i.size), i.created ?? '']);
  ctx.io.out(table(rows));
  return 0;
}

export async function imageRm(ctx: Context, refs: string[], o: { force?: boolean }): Promise<number> {
  const engine = await ctx.openEngine();
  for (const r of refs) {
    await engine.images.remove(r, { force: o.force });
    ctx.io.out(`removed ${r}`);
  }
  return 0;
}

export async function imagePrune(ctx: Context): Promise<number> {
  const engine = await ctx.openEngine();
  const r = await engine.images.prune();
  ctx.io.out(`removed ${r.removedBlobs} blobs, ${r.removedLayers} layers, reclaimed ${size(r.reclaimed)}`);
  return 0;
}

export async function imageInspect(ctx: Context, refs: string[]): Promise<number> {
  const engine = await ctx.openEngine();
  const out: ImageInfo[] = [];
  for (const r of refs) {
    const i = await engine.images.inspect(r);
    if (!i) throw new TsstackError('NOT_FOUND', `no such image: ${r}`, { hint: `pull it with \`tsstack image pull ${r}\`` });
    out.push(i);
  }
  ctx.io.out(JSON.stringify(out, null, 2));
  return 0;
}

export async function imageLoad(ctx: Context, o: { input?: string }): Promise<number> {
  const engine = await ctx.openEngine();
  let path = o.input;
  let tmp: string | undefined;
  if (!path) {
    tmp = mkdtempSync(join(tmpdir(), 'tsstack-load-'));
    path = join(tmp, 'archive.tar');
    await pipeline(process.stdin, createWriteStream(path));
  }
  try {
    for (const i of await engine.images.loadArchive(path)) ctx.io.out(`loaded ${i.names.join(', ') || i.id}`);
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
  return 0;
}

export async function imageSave(ctx: Context, refs: string[], o: { output: string }): Promise<number> {
  const engine = await ctx.openEngine();
  await engine.images.saveArchive(refs, o.output);
  return 0;
}

/** `image import [-c INSTR]… [-m MSG] SRC NAME`: the changes are checked before anything is read. */
export async function imageImport(ctx: Context, source: string, ref: string, o: { change?: string[]; message?: string } = {}): Promise<number> {
  const changes = o.change ?? [];
  const config = changes.length ? (await import('../image-changes.js')).applyChanges(changes) : undefined;
  const engine = await ctx.openEngine();
  let path = source;
  let tmp: string | undefined;
  if (source === '-') {
    tmp = mkdtempSync(join(tmpdir(), 'tsstack-import-'));
    path = join(tmp, 'rootfs.tar');
    await pipeline(process.stdin, createWriteStream(path));
  }
  try {
    const i = await engine.images.importRootfs(path, ref, { config, message: o.message });
    ctx.io.out(i.id);
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
  return 0;
}

/** `KEY=value` pairs; `KEY` alone takes the value from `env` (skipped when unset, as docker build does). */
export function keyValues(list: string[] | undefined, env: Record<string, string | undefined>, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list ?? []) {
    const eq = kv.indexOf('=');
    const key = eq < 0 ? kv : kv.slice(0, eq);
    if (!key) throw new TsstackError('USAGE', `${what} ${JSON.stringify(kv)} has no name`, { hint: `write ${what} KEY=value` });
    const value = eq < 0 ? env[key] : kv.slice(eq + 1);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/** `tsstack image build`: what `docker build` does, with the builder and cache the services' builds use. */
export async function imageBuild(ctx: Context, context: string, o: { tag?: string[]; file?: string; buildArg?: string[]; label?: string[]; target?: string; cache?: boolean; quiet?: boolean; push?: boolean }): Promise<number> {
  const { resolve } = await import('node:path');
  const { readFileSync, statSync } = await import('node:fs');
  const dir = resolve(ctx.io.cwd, context);
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new TsstackError('USAGE', `build context ${dir} is not a directory`, { hint: 'pass the directory holding the files the Dockerfile copies' });
  const inline = o.file === '-' ? readFileSync(0, 'utf8') : undefined;
  const engine = await ctx.openEngine();
  const info = await engine.images.build({
    context: dir, dockerfile: o.file && o.file !== '-' ? resolve(ctx.io.cwd, o.file) : undefined, dockerfileInline: inline,
    args: keyValues(o.buildArg, ctx.io.env, '--build-arg'), labels: keyValues(o.label, {}, '--label'), target: o.target,
    tags: o.tag ?? [], noCache: o.cache === false, onProgress: o.quiet ? undefined : (l) => ctx.io.err(l),
  });
  if (o.push) {
    if (!o.tag?.length) throw new TsstackError('USAGE', 'image build --push needs a name to push to', { hint: 'add -t REGISTRY/REPO:TAG' });
    for (const t of o.tag) await pushOne(ctx, engine.images, t, !!o.quiet);
  }
  ctx.io.out(info.id);
  return 0;
}

export async function imagePull(ctx: Context, ref: string): Promise<number> {
  const engine = await ctx.openEngine();
  const i = await engine.images.pull(ref, (l) => ctx.io.err(l));
  ctx.io.out(i.id);
  return 0;
}

export async function imageTag(ctx: Context, ref: string, name: string): Promise<number> {
  const engine = await ctx.openEngine();
  await engine.images.tag(ref, name);
  return 0;
}
