// networks → NetworkPolicies. In the stack two services talk only when they
// share a network; in a namespace every pod reaches every other. One policy
// per network admits traffic into its members from its members (policies
// add up, so a pod on two networks hears both); published ports also admit
// traffic from anywhere. An `internal` network has no way out: a pod whose
// networks are all internal may send only to its networks' members and to
// the cluster's DNS.

import { NETWORK_LABEL_PREFIX, k8sName, projectLabels, LABEL_PROJECT, LABEL_SERVICE, serviceLabel } from './names.js';
import type { K8sObject, RenderCtx } from './types.js';

export const EGRESS_LABEL = 'tsstack.egress';

/** The network keys service `svc` is on (none for network_mode host/none/service:). */
export function networksOf(ctx: RenderCtx, svc: string): string[] {
  return Object.keys(ctx.model.services[svc]!.networks).sort();
}

/** Labels the pods of `svc` carry for the policies. */
export function networkLabels(ctx: RenderCtx, svc: string): Record<string, string> {
  const nets = networksOf(ctx, svc);
  const out: Record<string, string> = {};
  for (const n of nets) out[NETWORK_LABEL_PREFIX + policyNetName(ctx, n)] = 'true';
  if (nets.length && nets.every((n) => ctx.model.networks[n]?.internal)) out[EGRESS_LABEL] = 'internal';
  return out;
}

function policyNetName(ctx: RenderCtx, net: string): string {
  return k8sName(ctx, ['networks', net], net);
}

export function networkPolicies(ctx: RenderCtx, publishing: string[], apiServerCIDR?: string): K8sObject[] {
  const used = new Set<string>();
  for (const svc of Object.keys(ctx.model.services)) for (const n of networksOf(ctx, svc)) used.add(n);
  const out: K8sObject[] = [];
  const labels = projectLabels(ctx);
  const member = (n: string) => ({ [LABEL_PROJECT]: ctx.model.name, [NETWORK_LABEL_PREFIX + policyNetName(ctx, n)]: 'true' });
  for (const n of [...used].sort()) {
    const net = ctx.model.networks[n]!;
    const at = ['networks', n];
    if (net.external) ctx.warn(at, `network ${n} is external: in the cluster it is a policy like the others, shared with nothing outside the stack`);
    if (net.driver && net.driver !== 'bridge') ctx.warn([...at, 'driver'], `network driver ${JSON.stringify(net.driver)} has no Kubernetes form; not rendered`);
    if (net.ipam?.config.length) ctx.warn([...at, 'ipam'], 'addresses are the cluster\'s to give; ipam is not rendered');
    if (net.enable_ipv6) ctx.warn([...at, 'enable_ipv6'], 'IP families are the cluster\'s; enable_ipv6 is not rendered');
    if (Object.keys(net.driver_opts).length) ctx.warn([...at, 'driver_opts'], 'driver_opts have no Kubernetes form; not rendered');
    const name = k8sName(ctx, at, `${ctx.model.name}-net-${n}`, 253);
    out.push({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name, labels },
      spec: {
        podSelector: { matchLabels: member(n) },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ podSelector: { matchLabels: member(n) } }] }],
      },
    });
    // Egress is limited only for pods whose every network is internal (EGRESS_LABEL): a pod also on an outside network keeps its way out.
    if (net.internal) {
      out.push({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: k8sName(ctx, at, `${ctx.model.name}-net-${n}-internal`, 253), labels },
        spec: {
          podSelector: { matchLabels: { ...member(n), [EGRESS_LABEL]: 'internal' } },
          policyTypes: ['Egress'],
          egress: [
            { to: [{ podSelector: { matchLabels: member(n) } }] },
            // the cluster's DNS, wherever it runs
            { to: [{ namespaceSelector: {} }], ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }] },
            // the API server, for the init containers that wait on depends_on (only when its address is given)
            ...(apiServerCIDR ? [{ to: [{ ipBlock: { cidr: apiServerCIDR } }], ports: [{ protocol: 'TCP', port: 443 }, { protocol: 'TCP', port: 6443 }] }] : []),
          ],
        },
      });
    }
  }
  // A pod whose every network is internal cannot reach the API server its wait init containers ask.
  for (const svc of Object.keys(ctx.model.services).sort()) {
    const s = ctx.model.services[svc]!;
    if (!apiServerCIDR && Object.keys(s.depends_on).length && networkLabels(ctx, svc)[EGRESS_LABEL]) {
      ctx.warn(['services', svc, 'depends_on'], `${svc} is only on internal networks, so its pods may not reach the API server and its depends_on waits would never end: set x-kubernetes.apiServerCIDR (the API server's address block) to let them`);
    }
  }
  for (const svc of publishing.sort()) {
    const at = ['services', svc, 'ports'];
    out.push({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: k8sName(ctx, at, `${ctx.model.name}-published-${svc}`, 253), labels },
      spec: {
        podSelector: { matchLabels: { [LABEL_PROJECT]: ctx.model.name, [LABEL_SERVICE]: serviceLabel(ctx, svc) } },
        policyTypes: ['Ingress'],
        ingress: [{ ports: publishedTargets(ctx, svc) }],
      },
    });
  }
  return out;
}

function publishedTargets(ctx: RenderCtx, svc: string): { protocol: string; port: number }[] {
  const seen = new Set<string>();
  const out: { protocol: string; port: number }[] = [];
  for (const p of ctx.model.services[svc]!.ports) {
    if (p.published === undefined) continue;
    const k = `${p.target}/${p.protocol}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push({ protocol: p.protocol.toUpperCase(), port: p.target });
  }
  return out.sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol));
}
