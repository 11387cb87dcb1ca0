// ports / expose → Services. Inside the stack a service is reached by its
// name on its container ports, so the ClusterIP Service carries the
// container ports under the service's own name. Published ports reach the
// outside only when the extension says how (NodePort or LoadBalancer, a
// second Service `<name>-published`); otherwise they are reported. Network
// aliases are further names: Services with the same selector and ports.

import type { ServiceSpec } from '../../model/types.js';
import { formatPortRange } from '../../model/format.js';
import type { ServiceExtension } from './extension.js';
import { k8sName, ownNetworkMode, projectLabels, selectorOf, serviceLabel, LABEL_SERVICE, type NameTable } from './names.js';
import type { K8sObject, RenderCtx } from './types.js';

export interface ServicePort {
  name: string;
  port: number;
  targetPort: number;
  protocol: 'TCP' | 'UDP';
  nodePort?: number;
  appProtocol?: string;
}

/** A port name Kubernetes takes (IANA service name: ≤ 15, lower-case letters, digits, single `-`, a letter somewhere). */
const PORT_NAME = /^(?=.*[a-z])(?!.*--)[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/;

/** Container ports of `ports` and `expose`, deduplicated, in order of port then protocol. */
export function containerPorts(ctx: RenderCtx, svc: string, s: ServiceSpec): ServicePort[] {
  const seen = new Map<string, ServicePort>();
  const add = (port: number, proto: string, name?: string, appProtocol?: string) => {
    const protocol = proto.toLowerCase() === 'udp' ? 'UDP' : 'TCP';
    const key = `${port}/${protocol}`;
    if (!seen.has(key)) seen.set(key, { name: name ?? `${protocol.toLowerCase()}-${port}`, port, targetPort: port, protocol, ...(appProtocol ? { appProtocol } : {}) });
  };
  const taken = new Set<string>();
  s.ports.forEach((p, i) => {
    // the port's own name when Kubernetes takes it (and no other port has it)
    let name: string | undefined;
    if (p.name !== undefined) {
      if (PORT_NAME.test(p.name) && !taken.has(p.name)) name = p.name;
      else ctx.warn(['services', svc, 'ports', i, 'name'], `port name ${JSON.stringify(p.name)} is not one Kubernetes takes (≤ 15 lower-case letters, digits, -) or is used twice; named ${p.protocol}-${p.target} instead`);
    }
    if (name) taken.add(name);
    add(p.target, p.protocol, name, p.app_protocol);
  });
  s.expose.forEach((e, i) => {
    const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp))?$/i.exec(String(e));
    if (!m) {
      ctx.warn(['services', svc, 'expose', i], `expose ${JSON.stringify(e)} is not PORT[-PORT][/PROTO]; not rendered`);
      return;
    }
    const from = Number(m[1]);
    const to = m[2] ? Number(m[2]) : from;
    for (let p = from; p <= to && p - from < 1000; p++) add(p, m[3] ?? 'tcp');
  });
  return [...seen.values()].sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol));
}

function serviceObject(ctx: RenderCtx, name: string, svc: string, spec: Record<string, unknown>): K8sObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, labels: { ...projectLabels(ctx), [LABEL_SERVICE]: serviceLabel(ctx, svc) } }, spec: { selector: selectorOf(ctx, svc), ...spec } };
}

export function servicesFor(ctx: RenderCtx, svc: string, s: ServiceSpec, ext: ServiceExtension, names: NameTable): K8sObject[] {
  const out: K8sObject[] = [];
  const at = ['services', svc];
  const ports = containerPorts(ctx, svc, s);
  const base = k8sName(ctx, at, svc);
  const portSpec = ports.map(({ nodePort: _n, ...p }) => p);
  // Without declared ports a stack service is still reached by name on any port: a headless Service gives the name.
  if (!ownNetworkMode(s.network_mode)) {
    names.claim(ctx, 'Service', base, `service ${svc}`, at);
    out.push(serviceObject(ctx, base, svc, ports.length ? { type: 'ClusterIP', ports: portSpec } : { clusterIP: 'None' }));
  }
  // Published ports.
  const published: ServicePort[] = [];
  s.ports.forEach((p, i) => {
    if (p.published === undefined) return;
    const pat = [...at, 'ports', i];
    if (!ext.publish) {
      ctx.warn(pat, `port ${formatPortRange(p.published)}:${p.target} is published on the host; in the cluster it is reachable only inside (set x-kubernetes.publish: NodePort or LoadBalancer on the service)`);
      return;
    }
    if (p.published.start !== p.published.end) {
      ctx.warn(pat, `published range ${formatPortRange(p.published)} has no Service form; only the container port ${p.target} is exposed`);
      return;
    }
    const pub = p.published.start;
    const protocol = p.protocol === 'udp' ? 'UDP' : 'TCP';
    if (p.host_ip) ctx.warn([...pat], `host_ip ${p.host_ip} has no Service form: the port is published on every node (NodePort) or the load balancer`);
    if (p.mode === 'host') ctx.warn([...pat, 'mode'], `mode host (the port only on the node running the container) has no Service form: published like an ingress port (${ext.publish})`);
    const sp: ServicePort = { name: `${protocol.toLowerCase()}-${pub}`, port: pub, targetPort: p.target, protocol };
    if (ext.publish === 'NodePort') {
      // The default NodePort range; outside it the cluster picks one (reported).
      if (pub >= 30000 && pub <= 32767) sp.nodePort = pub;
      else ctx.warn(pat, `host port ${pub} is outside the NodePort range 30000-32767: the cluster picks the node port`);
    }
    if (!published.some((q) => q.port === sp.port && q.protocol === sp.protocol)) published.push(sp);
  });
  if (published.length) {
    const name = k8sName(ctx, at, `${svc}-published`);
    names.claim(ctx, 'Service', name, `service ${svc} (published ports)`, at);
    out.push(serviceObject(ctx, name, svc, { type: ext.publish, ports: published.sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol)) }));
  }
  // Network aliases (and legacy link aliases are reported by the workload).
  const aliases = new Set<string>();
  for (const [net, a] of Object.entries(s.networks)) for (const alias of a?.aliases ?? []) if (alias !== svc) aliases.add(`${alias}\u0000${net}`);
  for (const entry of [...aliases].sort()) {
    const [alias, net] = entry.split('\u0000') as [string, string];
    const aat = [...at, 'networks', net, 'aliases'];
    if (!/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(alias)) {
      ctx.warn(aat, `alias ${JSON.stringify(alias)} is not a DNS label Kubernetes can name a Service by; not rendered`);
      continue;
    }
    names.claim(ctx, 'Service', alias, `alias ${alias} of service ${svc}`, aat);
    if (out.some((o) => o.metadata.name === alias)) continue;
    out.push(serviceObject(ctx, alias, svc, ports.length ? { type: 'ClusterIP', ports: portSpec } : { clusterIP: 'None' }));
    ctx.warn(aat, `alias ${alias} is a Service of the whole namespace, not only of network ${net}`);
  }
  return out;
}
