// `tsstack deploy --to swarm|kubernetes`: the same stack file on a cluster engine.
// This file only picks the target; each target's reconciler lives in
// src/deploy/<target>/ and is loaded on demand (the one-host commands never load it).

import { TsstackError } from '../../util/errors.js';
import { deferredCaFile, rerunWithExtraCa } from '../../util/extra-ca.js';
import type { Context } from '../context.js';

export interface DeployFlags {
  to?: string;
  /** Swarm: the Docker Engine API endpoint (default DOCKER_HOST or the local socket). */
  host?: string;
  /** Swarm: the registry images are pushed to when their names say none. */
  registry?: string;
  /** Swarm: send the Docker config's registry credentials with each service, for its nodes to pull with. */
  withRegistryAuth?: boolean;
  /** Kubernetes: the kubeconfig context. */
  context?: string;
  /** Kubernetes: the namespace of every object. */
  namespace?: string;
  /** Print what would change, change nothing. */
  plan?: boolean;
  /** Remove everything of the project from the target, nothing else. */
  rm?: boolean;
  /** Kubernetes, with rm: also delete the project's PersistentVolumeClaims (their data goes). */
  volumes?: boolean;
  /** Wait until the rollout is ready. */
  wait?: boolean;
  /** Keys with no faithful mapping are errors, not warnings. */
  strict?: boolean;
}

export const DEPLOY_TARGETS = ['swarm', 'kubernetes'] as const;

export async function runDeploy(ctx: Context, flags: DeployFlags): Promise<number> {
  if (flags.volumes && !(flags.rm && flags.to === 'kubernetes')) {
    throw new TsstackError('USAGE', '--volumes goes with --rm --to kubernetes', { hint: "a Swarm's volumes live on its nodes: remove them there with docker volume rm" });
  }
  if (flags.withRegistryAuth && flags.to !== 'swarm') {
    throw new TsstackError('USAGE', '--with-registry-auth goes with --to swarm', { hint: 'Kubernetes pulls private images with an image pull secret (kubectl create secret docker-registry) named by the pod spec' });
  }
  // the cluster clients take Node's TLS defaults only: extra CA certificates the launcher kept from
  // Node's start (util/extra-ca.ts) are given back by running the command again with them
  if (deferredCaFile()) return rerunWithExtraCa();
  switch (flags.to) {
    case 'swarm':
      return (await import('../../deploy/swarm/command.js')).deploySwarm(ctx, flags);
    case 'kubernetes':
      return (await import('../../deploy/kubernetes/command.js')).deployKubernetes(ctx, flags);
    default:
      throw new TsstackError('USAGE', flags.to === undefined ? 'deploy needs a target' : `cannot deploy to ${JSON.stringify(flags.to)}`, {
        hint: `tsstack deploy --to ${DEPLOY_TARGETS.join('|')}`,
      });
  }
}
