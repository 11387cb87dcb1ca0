// depends_on → init containers that hold the pod back until each dependency
// is as ready as the condition asks. They run `kubectl wait` (one small image
// the stack can override with x-kubernetes.images.kubectl) under a service
// account that may only read the project's pods, jobs and workloads:
//   service_started                → the dependency's workload exists
//   service_healthy                → its pods are Ready (readiness = the healthcheck,
//                                    so its Service has ready endpoints)
//   service_completed_successfully → its Job completed
// A wait that fails (nothing to wait on yet) fails the init container and the
// kubelet retries it, which is the waiting.

import type { StackExtension } from './extension.js';
import { LABEL_PROJECT, LABEL_SERVICE, k8sName, projectLabels, serviceLabel } from './names.js';
import type { K8sObject, RenderCtx } from './types.js';

export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'Job';

/** The account's token, mounted in the wait containers only: the service's own container gets no API credentials (as under Compose). */
export const TOKEN_VOLUME = 'wait-token';
const TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The pod volume holding what in-cluster kubectl reads: token, cluster CA, namespace. */
export function tokenVolume(): Record<string, unknown> {
  return {
    name: TOKEN_VOLUME,
    projected: {
      sources: [
        { serviceAccountToken: { path: 'token', expirationSeconds: 3600 } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
      ],
    },
  };
}

export function waitAccountName(ctx: RenderCtx): string {
  return k8sName(ctx, ['name'], `${ctx.model.name}-wait`, 253);
}

export function initWaits(ctx: RenderCtx, svc: string, ext: StackExtension, kinds: Record<string, WorkloadKind>): Record<string, unknown>[] {
  const s = ctx.model.services[svc]!;
  const out: Record<string, unknown>[] = [];
  for (const dep of Object.keys(s.depends_on).sort()) {
    const d = s.depends_on[dep]!;
    const at = ['services', svc, 'depends_on', dep];
    if (!d.required) ctx.warn(at, 'required: false has no init-container form: the pod waits for it all the same');
    if (d.restart) ctx.warn([...at, 'restart'], 'restart: true (restart this service when the dependency restarts) has no Kubernetes form; not rendered');
    const kind = kinds[dep]!;
    const name = k8sName(ctx, at, dep);
    let args: string[];
    if (d.condition === 'service_completed_successfully') {
      if (kind !== 'Job') throw ctx.error(at, `${svc} waits for ${dep} to complete, but ${dep} is rendered as a ${kind}`, `remove ${dep}'s restart policy (Compose's default is "no"), or set its x-kubernetes.workload: Job`);
      args = ['wait', '--for=condition=complete', `job/${name}`, '--timeout=-1s'];
    } else if (d.condition === 'service_healthy') {
      if (!ctx.model.services[dep]!.healthcheck) ctx.warn(at, `${dep} has no healthcheck: ready means running`);
      args = ['wait', '--for=condition=Ready', 'pod', '-l', `${LABEL_PROJECT}=${ctx.model.name},${LABEL_SERVICE}=${serviceLabel(ctx, dep)}`, '--timeout=-1s'];
    } else {
      args = ['wait', '--for=create', `${kind.toLowerCase()}/${name}`, '--timeout=-1s'];
    }
    out.push({ name: k8sName(ctx, at, `wait-${dep}`), image: ext.kubectlImage, command: ['kubectl'], args, volumeMounts: [{ name: TOKEN_VOLUME, mountPath: TOKEN_PATH, readOnly: true }] });
  }
  return out;
}

/** The service account the waits run as, and its read-only Role (only when some service waits). */
export function waitAccount(ctx: RenderCtx): K8sObject[] {
  const name = waitAccountName(ctx);
  const labels = projectLabels(ctx);
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, labels } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name, labels },
      rules: [
        { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['apps'], resources: ['deployments', 'statefulsets'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      // the API wants the account's namespace here: without --namespace, `default`
      subjects: [{ kind: 'ServiceAccount', name, namespace: ctx.opts.namespace ?? 'default' }],
    },
  ];
}
