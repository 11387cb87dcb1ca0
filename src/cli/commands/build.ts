// `build [SERVICE…]`: the images of the services with a build section. Apart
// from the other image commands: a cached rebuild (main.ts's quick path) loads
// this module and the engine's image facade, nothing else of the CLI.

import type { ImageApi } from '../../engine/api.js';
import { TsstackError } from '../../util/errors.js';
import type { Context } from '../context.js';
import { EXIT_FAILED } from '../errors.js';

export async function runBuild(ctx: Context, services: string[], o: { cache?: boolean; pull?: boolean; quiet?: boolean; push?: boolean }): Promise<number> {
  const model = await ctx.loadModel();
  const engine = await ctx.openEngine();
  const names = (services.length ? services : Object.keys(model.services)).sort();
  let failed = 0;
  for (const n of names) {
    const svc = model.services[n];
    if (!svc) throw new TsstackError('NOT_FOUND', `no such service: ${n}`);
    if (!svc.build) continue;
    const b = svc.build;
    const args: Record<string, string> = {};
    for (const [k, v] of Object.entries(b.args ?? {})) if (v !== null) args[k] = v;
    const tag = svc.image ?? `${model.name}-${n}`;
    if (!o.quiet) ctx.io.err(`building ${n} (${tag})`);
    try {
      const info = await engine.images.build({
        context: b.context, dockerfile: b.dockerfile, dockerfileInline: b.dockerfile_inline, args, target: b.target,
        labels: b.labels ?? {}, tags: [tag, ...(b.tags ?? [])], noCache: o.cache === false || b.no_cache, network: b.network,
        onProgress: o.quiet ? undefined : (l) => ctx.io.err(`${n}  ${l}`),
      });
      if (!o.quiet) ctx.io.err(`built ${tag} ${info.id}`);
      // --push: the names the stack gives the image (image: and build.tags), as docker compose build --push
      if (o.push) for (const t of svc.image ? [svc.image, ...(b.tags ?? [])] : (b.tags ?? [])) await pushOne(ctx, engine.images, t, !!o.quiet);
    } catch (e) {
      if (names.length === 1) throw e;
      ctx.io.err(`${n}: ${e instanceof Error ? e.message : String(e)}`);
      failed++;
    }
  }
  return failed ? EXIT_FAILED : 0;
}

export async function pushOne(ctx: Context, images: ImageApi, ref: string, quiet: boolean): Promise<void> {
  const r = await images.push(ref, quiet ? undefined : (l) => ctx.io.err(`${ref}  ${l}`));
  if (!quiet) ctx.io.err(`${ref}  Pushed ${r.digest}`);
}
