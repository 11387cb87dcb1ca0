// `tsstack deploy --to kubernetes [--context NAME] [--namespace NS] [--plan] [--rm] [--wait] [--strict]`:
// render the stack (as `render kubernetes`), build and push the images the
// cluster must pull, then apply with server-side apply (deploy.ts). --plan
// changes nothing; --rm removes the project's objects and nothing else.

import { TsstackError } from '../../util/errors.js';
import type { Context } from '../../cli/context.js';
import type { DeployFlags } from '../../cli/commands/deploy.js';
import type { StackModel } from '../../model/types.js';
import { Cluster } from './cluster.js';
import { applyDeploy, checkNamespace, planDeploy, printPlan, removeProject, waitRollout, type Target } from './deploy.js';

/** How long --wait waits (TSSTACK_DEPLOY_TIMEOUT seconds overrides it). */
const WAIT_MS = 5 * 60_000;

/**
 * The services whose images deploy builds and pushes: those with `build:`. Each must name its image
 * (`image: REGISTRY/REPO:TAG`): the cluster pulls it from there, and a name tsstack made up
 * (`<project>-<service>`) is in no registry.
 */
export function imagesToBuild(model: StackModel): string[] {
  const built = Object.keys(model.services).filter((s) => model.services[s]!.build).sort();
  const unnamed = built.filter((s) => !model.services[s]!.image);
  if (unnamed.length) {
    throw new TsstackError('SPEC', `${unnamed.join(', ')} ${unnamed.length === 1 ? 'is' : 'are'} built from source but name${unnamed.length === 1 ? 's' : ''} no image: the cluster could not pull ${unnamed.length === 1 ? 'it' : 'them'}`, {
      hint: 'give each an image: REGISTRY/REPO:TAG that the cluster can pull from (deploy builds and pushes it there)',
    });
  }
  return built;
}

export async function deployKubernetes(ctx: Context, flags: DeployFlags): Promise<number> {
  const { checkNamespaceName, renderForCli } = await import('../../cli/commands/render.js');
  if (flags.plan && flags.rm) throw new TsstackError('USAGE', '--plan and --rm do not go together', { hint: 'tsstack deploy --to kubernetes --rm removes; --plan shows what a deploy would change' });
  checkNamespaceName(flags.namespace);
  const model = await ctx.loadModel();
  const cluster = Cluster.load(flags.context, ctx.io.env);
  const t: Target = { cluster, project: model.name, namespace: flags.namespace ?? cluster.defaultNamespace };
  if (flags.rm) {
    await checkNamespace(t);
    await removeProject(t, ctx.io, { volumes: !!flags.volumes });
    return 0;
  }
  // render first: a stack problem stops the deploy before anything is built or sent
  const objects = renderForCli(ctx, model, { namespace: t.namespace, strict: flags.strict });
  const build = imagesToBuild(model);
  await checkNamespace(t);
  if (flags.plan) {
    for (const s of build) ctx.io.out(`build and push ${model.services[s]!.image} (service ${s})`);
    printPlan(ctx.io, t, await planDeploy(t, model, objects));
    return 0;
  }
  if (build.length) {
    const { runBuild } = await import('../../cli/commands/images.js');
    const code = await runBuild(ctx, build, { push: true });
    if (code !== 0) throw new TsstackError('IMAGE', 'an image could not be built or pushed; nothing was applied', { hint: 'see the messages above' });
  }
  const applied = await applyDeploy(t, model, objects, ctx.io);
  if (flags.wait) {
    const env = Number(process.env.TSSTACK_DEPLOY_TIMEOUT);
    await waitRollout(t, applied, { timeoutMs: env > 0 ? env * 1000 : WAIT_MS, pollMs: 2000 }, ctx.io);
  }
  ctx.io.err(`deployed ${model.name} to namespace ${t.namespace} (context ${cluster.context})`);
  return 0;
}
