// `tsstack deploy --to swarm [--host URL] [--registry HOST] [--with-registry-auth] [--plan] [--rm]`:
// a reconciler for a Docker Swarm. Everything that can fail before the Swarm
// changes (engine reachable and a manager, images built and pushed, secret
// files readable) is done first; then the plan is printed (--plan stops here)
// and applied.

import { readFileSync } from 'node:fs';
import { TsstackError } from '../../util/errors.js';
import type { Context } from '../../cli/context.js';
import type { StackModel } from '../../model/types.js';
import type { DeployFlags } from '../../cli/commands/deploy.js';
import { locator } from '../../cli/commands/render.js';
import { SwarmEngine, engineAddress } from './engine.js';
import { prepareImages } from './images.js';
import { serviceAuths } from './registry-auth.js';
import { defaultDockerConfigPath, loadCredentials } from '../../engine/image/registry/auth.js';
import { mapStack } from './map.js';
import { describe, diff } from './diff.js';
import { converge, removeProject } from './converge.js';
import { NO_IPVS_NOTE, probeIpvs } from './ipvs.js';
import { IPVS_LABEL, type Desired, type Plan, type SwarmWarning } from './types.js';

export function formatSwarmWarning(w: SwarmWarning): string {
  return `${w.file ? `${w.file}${w.line !== undefined ? `:${w.line}` : ''}: ` : ''}${w.path}: ${w.message}`;
}

export function deployTimeoutMs(env: NodeJS.ProcessEnv): number {
  const raw = env.TSSTACK_DEPLOY_TIMEOUT;
  if (raw === undefined || raw === '') return 180_000;
  const n = Number(raw);
  if (!(n > 0)) throw new TsstackError('USAGE', `TSSTACK_DEPLOY_TIMEOUT must be a number of seconds, got ${JSON.stringify(raw)}`);
  return n * 1000;
}

export async function deploySwarm(ctx: Context, flags: DeployFlags): Promise<number> {
  const model = await ctx.loadModel();
  const eng = new SwarmEngine(engineAddress(flags.host, ctx.io.env), ctx.io.env);
  try {
    return await deploy(ctx, flags, model, eng);
  } catch (e) {
    // whatever the Engine API answered that no step turned into words of its own
    if (e instanceof TsstackError) throw e;
    throw eng.remote('the deploy failed', e);
  }
}

async function deploy(ctx: Context, flags: DeployFlags, model: StackModel, eng: SwarmEngine): Promise<number> {
  const log = (s: string) => ctx.io.err(s);
  await eng.checkManager();
  const timeoutMs = deployTimeoutMs(ctx.io.env);
  if (flags.rm) return removeProject(eng, model.name, { log: (s) => ctx.io.out(s), timeoutMs, plan: flags.plan });

  const readFile = (p: string) => {
    try {
      return readFileSync(p);
    } catch {
      return undefined;
    }
  };
  const mapOpts = { readFile, locate: locator(model) };
  // a stack the Swarm cannot take (an unreadable secret file, say) fails here, before any image is pushed
  mapStack(model, { ...mapOpts, ipvs: true });
  const engine = await ctx.openEngine();
  const prepared = await prepareImages(model, engine, { registry: flags.registry, log, dryRun: flags.plan });
  const live = await eng.observe(model.name);
  const auths = flags.withRegistryAuth ? serviceAuths(prepared.images, (domain) => loadCredentials(domain)) : undefined;
  if (auths) for (const d of auths.without) log(`warning: --with-registry-auth: no credentials for ${d} in ${defaultDockerConfigPath()}; the Swarm's nodes pull from it with their own`);

  // IPVS: as found by an earlier deploy (a label on the project's networks), else probed once
  const known = live.networks.map((n) => n.labels[IPVS_LABEL]).find((v) => v === 'present' || v === 'absent');
  let ipvs: boolean;
  if (known) ipvs = known === 'present';
  else if (flags.plan) ipvs = false;
  else {
    const first = Object.keys(prepared.images).sort()[0];
    const found = first ? await probeIpvs(eng, model.name, prepared.images[first]!, auths?.byService.get(first)) : undefined;
    if (found === undefined) log('note: could not tell whether the Swarm has IPVS; deploying as if it has none (works either way)');
    ipvs = found === true;
  }
  if (!ipvs && (known || !flags.plan)) log(`note: ${NO_IPVS_NOTE}`);

  const desired = mapStack(model, { ...mapOpts, ipvs, images: prepared.images, unpushedBuilds: prepared.unpushedBuilds });
  for (const n of desired.networks) if (n.create) (n.create.Labels as Record<string, string>)[IPVS_LABEL] = ipvs ? 'present' : 'absent';
  if (flags.strict && desired.warnings.length) {
    throw new TsstackError('SPEC', `${desired.warnings.length} stack key${desired.warnings.length === 1 ? ' has' : 's have'} no faithful Swarm form (--strict)`, {
      details: desired.warnings.map(formatSwarmWarning), hint: 'change or remove these keys, or deploy without --strict to accept the differences',
    });
  }
  for (const w of model.warnings) ctx.io.err(`warning: ${w.file}${w.line ? `:${w.line}` : ''}: ${w.path}: ${w.message}`);
  for (const w of desired.warnings) ctx.io.err(`warning: ${formatSwarmWarning(w)}`);

  const plan = diff(desired, live);
  if (plan.missing.length) {
    throw new TsstackError('REMOTE', `the stack names ${plan.missing.join(', ')}, which the Swarm does not have`, { hint: 'create the external objects on the Swarm first' });
  }
  if (flags.plan) {
    if (!known) ctx.io.out('# IPVS not probed yet (--plan changes nothing): planned as if the Swarm has none');
    for (const a of plan.actions) ctx.io.out(describe(a));
    if (!plan.actions.length) ctx.io.out(`nothing to change (${plan.unchanged.length} service${plan.unchanged.length === 1 ? '' : 's'} as desired)`);
    return 0;
  }
  if (!plan.actions.length) {
    ctx.io.out(`nothing to change (${plan.unchanged.length} service${plan.unchanged.length === 1 ? '' : 's'} as desired)`);
    return 0;
  }
  await preflight(eng, desired, plan);
  await converge(eng, desired, plan, { log: (s) => ctx.io.out(s), timeoutMs, auths: auths?.byService });
  return 0;
}

/** Before the first change: names the plan would create that something else on the Swarm has, external secrets and configs that are not there. */
async function preflight(eng: SwarmEngine, desired: Desired, plan: Plan): Promise<void> {
  const names = await eng.allNames();
  const taken: string[] = [];
  for (const a of plan.actions) {
    if (a.kind === 'create-service' && names.service.has(a.service.name)) taken.push(`service ${a.service.name}`);
    if (a.kind === 'create-network' && names.network.has(a.name)) taken.push(`network ${a.name}`);
    if (a.kind === 'create-secret' && names.secret.has(a.name)) taken.push(`secret ${a.name}`);
    if (a.kind === 'create-config' && names.config.has(a.name)) taken.push(`config ${a.name}`);
  }
  if (taken.length) {
    throw new TsstackError('CONFLICT', `the Swarm already has ${taken.join(', ')}, not of project ${desired.project} (no tsstack.project label)`, {
      hint: 'remove or rename them, or deploy under another project name (-p)',
    });
  }
  const missing = [...desired.secrets, ...desired.configs].filter((o) => o.external && !names[o.kind].has(o.name)).map((o) => `${o.kind} ${o.name}`);
  if (missing.length) throw new TsstackError('REMOTE', `the stack names external ${missing.join(', ')}, which the Swarm does not have`, { hint: 'create them on the Swarm first (docker secret create / docker config create)' });
}
