// Whether a Swarm's nodes have IPVS (the kernel's IP Virtual Server), which
// Swarm's ingress routing mesh and virtual-IP load balancing need. The Engine
// API does not say, so a one-task job looks for /proc/net/ip_vs (present in
// every network namespace when the kernel has IPVS) on a node, in the image
// the stack deploys anyway. The answer is kept as a label on the project's
// networks, so only a first deploy pays for the probe.

import type { SwarmEngine } from './engine.js';
import { PROJECT_LABEL } from './types.js';
import type { SwarmAuthConfig } from './registry-auth.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** true/false, or undefined when the probe could not tell (no shell in the image, a node refused, …). */
export async function probeIpvs(eng: SwarmEngine, project: string, image: string, auth?: SwarmAuthConfig, timeoutMs = 60_000): Promise<boolean | undefined> {
  const d = eng.docker;
  let id: string | undefined;
  try {
    const created = await d.createService(auth as never, {
      Name: `${project}_tsstack-ipvs-probe`,
      Labels: { [PROJECT_LABEL]: project, 'tsstack.probe': 'ipvs' },
      TaskTemplate: {
        ContainerSpec: { Image: image, Command: ['/bin/sh', '-c', 'test -e /proc/net/ip_vs'] },
        RestartPolicy: { Condition: 'none' },
      },
      Mode: { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } },
    } as never) as unknown as { id?: string; ID?: string };
    id = created.id ?? created.ID;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const tasks = await eng.tasks(id!);
      for (const t of tasks) {
        if (t.Status.State === 'complete') return true;
        if (t.Status.State === 'failed') return t.Status.ContainerStatus?.ExitCode === 1 ? false : undefined;
        if (t.Status.State === 'rejected') return undefined;
      }
      await sleep(300);
    }
    return undefined;
  } catch {
    // a Swarm that refuses the job (an old engine without jobs, say): unknown, not an error of the deploy
    return undefined;
  } finally {
    if (id) await d.getService(id).remove().catch(() => {});
  }
}

export const NO_IPVS_NOTE =
  'this Swarm\'s nodes have no IPVS (the kernel\'s IP Virtual Server), which Swarm\'s routing mesh and virtual IPs need. ' +
  'So services are deployed with DNS round-robin (endpoint_mode: dnsrr) and their ports are published in host mode: ' +
  'a published port answers only on the nodes that run one of the service\'s tasks, and each node runs at most one such task per port.';
