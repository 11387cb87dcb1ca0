// Before anything changes on the Swarm: build what must be built, push each
// service's image to the registry its name (or --registry) says, and pin it by
// the pushed digest, so every node runs the same bytes and a rebuilt image with
// the same tag rolls the service. An image that is neither here nor in its
// registry is an IMAGE error (exit 5); a registry that refuses is REMOTE (9).

import type { Engine } from '../../engine/api.js';
import type { StackModel } from '../../model/types.js';
import { parseReference, repositoryOf } from '../../engine/image/reference.js';
import { RegistryClient, MANIFEST_ACCEPT } from '../../engine/image/registry/client.js';
import { TsstackError, isTsstackError } from '../../util/errors.js';

export interface PreparedImages {
  /** Service key → the reference the nodes pull. */
  images: Record<string, string>;
  /** Services built here whose image has no registry to go to. */
  unpushedBuilds: string[];
}

/** Whether a written image name names its registry (`host:5000/x`, `reg.example/x`, `localhost/x`). */
export function namesRegistry(name: string): boolean {
  const i = name.indexOf('/');
  if (i < 0) return false;
  const first = name.slice(0, i);
  return first.includes('.') || first.includes(':') || first === 'localhost';
}

/** Where a service's image goes: its own name when that names a registry, else under --registry, else nowhere. */
export function pushTarget(name: string, registry: string | undefined): string | undefined {
  if (namesRegistry(name)) return name;
  return registry ? `${registry.replace(/\/+$/, '')}/${name}` : undefined;
}

async function inRegistry(ref: string): Promise<boolean> {
  const r = parseReference(ref);
  const repo = repositoryOf(r);
  const client = new RegistryClient(r.domain);
  let res: Response;
  try {
    res = await client.request('HEAD', `/v2/${r.path}/manifests/${r.digest ?? r.tag ?? 'latest'}`, `repository:${r.path}:pull`, { headers: { accept: MANIFEST_ACCEPT } });
  } catch (e) {
    throw new TsstackError('REMOTE', `cannot reach registry ${r.domain} to look for ${repo}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  throw new TsstackError('REMOTE', `registry ${r.domain} answered ${res.status} when asked for ${ref}`, { hint: 'check the credentials (tsstack uses ~/.docker/config.json)' });
}

/**
 * `dryRun` (--plan): builds and pushes nothing; an image here is named by its
 * stored manifest digest (what a push would send), so an unchanged image plans no change.
 */
export async function prepareImages(model: StackModel, engine: Engine, o: { registry?: string; log: (s: string) => void; dryRun?: boolean }): Promise<PreparedImages> {
  const images: Record<string, string> = {};
  const unpushedBuilds: string[] = [];
  const pushed = new Map<string, string>();
  for (const key of Object.keys(model.services).sort()) {
    const s = model.services[key]!;
    const name = s.image ?? `${model.name}-${key}`;
    if (s.build && o.dryRun) o.log(`would build ${key} (${name})`);
    if (s.build && !o.dryRun) {
      const args: Record<string, string> = {};
      for (const [k, v] of Object.entries(s.build.args)) if (v !== null) args[k] = v;
      o.log(`building ${key} (${name})`);
      await engine.images.build({
        context: s.build.context, dockerfile: s.build.dockerfile, dockerfileInline: s.build.dockerfile_inline, args, target: s.build.target,
        labels: s.build.labels, tags: [name, ...s.build.tags], noCache: s.build.no_cache, network: s.build.network,
      });
    }
    const target = pushTarget(name, o.registry);
    if (!target) {
      if (s.build) unpushedBuilds.push(key);
      images[key] = name;
      continue;
    }
    if (pushed.has(target)) {
      images[key] = pushed.get(target)!;
      continue;
    }
    const local = await engine.images.inspect(name);
    if (!local) {
      // not built or pulled here: fine if its registry has it (pushed by CI, say)
      if (!(await inRegistry(target))) {
        throw new TsstackError('IMAGE', `service ${key}: image ${name} was never built here and ${target} is not in its registry`, {
          hint: `build it (tsstack build, or give the service a build:), or push ${target} first`,
        });
      }
      images[key] = target;
      pushed.set(target, target);
      continue;
    }
    if (o.dryRun) {
      images[key] = local.digest ? `${target.replace(/@.*$/, '')}@${local.digest}` : target;
      continue;
    }
    if (target !== name) await engine.images.tag(name, target);
    let digest: string;
    try {
      o.log(`pushing ${target}`);
      digest = (await engine.images.push(target)).digest;
    } catch (e) {
      if (isTsstackError(e) && (e.code === 'USAGE' || e.code === 'NOT_FOUND')) throw e;
      throw new TsstackError('REMOTE', `service ${key}: ${e instanceof Error ? e.message : String(e)}`, {
        hint: isTsstackError(e) && e.hint ? e.hint : `the registry of ${target} must be reachable and accept pushes (credentials in ~/.docker/config.json)`, cause: e,
      });
    }
    const r = parseReference(target);
    const ref = `${target.replace(/@.*$/, '')}@${digest}`;
    images[key] = r.digest ? target : ref;
    pushed.set(target, images[key]!);
  }
  return { images, unpushedBuilds };
}
