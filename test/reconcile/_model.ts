// Literal builders for stack models in reconcile/cli tests.
import type { ServiceSpec, StackModel } from '../../src/model/types.js';

export function svc(p: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    environment: {}, labels: {}, ports: [], expose: [], volumes: [], tmpfs: [], depends_on: {}, networks: {},
    cap_add: [], cap_drop: [], ulimits: {}, sysctls: {}, extra_hosts: [], dns: [], dns_search: [], group_add: [],
    profiles: [], secrets: [], configs: [], extensions: {}, ...p,
  };
}

export function model(name: string, services: Record<string, Partial<ServiceSpec>>, extra: Partial<StackModel> = {}): StackModel {
  const out: StackModel = {
    name, workingDir: '/srv/' + name, sourceFiles: ['/srv/' + name + '/stack.yaml'], services: {}, networks: {}, volumes: {},
    secrets: {}, configs: {}, allProfiles: [], extensions: {}, warnings: [], ...extra,
  };
  for (const [k, v] of Object.entries(services)) out.services[k] = svc(v);
  return out;
}
