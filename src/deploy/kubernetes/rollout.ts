// `--wait`: when is a rolled-out workload ready? Pure, on the object as the
// server returns it (status included), as `kubectl rollout status` judges:
// the controller has seen the newest spec, and every replica is updated and
// available (Deployment) or ready on the update revision (StatefulSet); a Job
// has completed, or has failed, which ends the wait with an error.

import type { K8sObject } from './types.js';

export interface Readiness {
  ready: boolean;
  /** The workload cannot become ready (a failed Job): the wait ends with this. */
  failed?: string;
  /** What is still awaited, for the progress line and the timeout message. */
  waiting?: string;
}

type Obj = Record<string, any>;

export function readiness(o: K8sObject): Readiness {
  const spec = (o as Obj).spec ?? {};
  const st = (o as Obj).status ?? {};
  const gen = o.metadata as Obj;
  if ((o.kind === 'Deployment' || o.kind === 'StatefulSet') && (st.observedGeneration ?? 0) < (gen.generation ?? 0)) return { ready: false, waiting: 'the controller has not seen the new spec yet' };
  const want = spec.replicas ?? 1;
  if (o.kind === 'Deployment') {
    const cond = (st.conditions ?? []).find((c: Obj) => c.type === 'Progressing');
    if (cond?.reason === 'ProgressDeadlineExceeded') return { ready: false, failed: `rollout stalled: ${cond.message ?? 'progress deadline exceeded'}` };
    if ((st.updatedReplicas ?? 0) < want) return { ready: false, waiting: `${st.updatedReplicas ?? 0} of ${want} replicas updated` };
    if ((st.replicas ?? 0) > (st.updatedReplicas ?? 0)) return { ready: false, waiting: `${st.replicas - st.updatedReplicas} old replicas still running` };
    if ((st.availableReplicas ?? 0) < want) return { ready: false, waiting: `${st.availableReplicas ?? 0} of ${want} replicas available` };
    return { ready: true };
  }
  if (o.kind === 'StatefulSet') {
    if ((st.readyReplicas ?? 0) < want) return { ready: false, waiting: `${st.readyReplicas ?? 0} of ${want} replicas ready` };
    if (st.updateRevision && st.currentRevision !== st.updateRevision && (st.updatedReplicas ?? 0) < want) return { ready: false, waiting: `${st.updatedReplicas ?? 0} of ${want} replicas updated` };
    return { ready: true };
  }
  if (o.kind === 'Job') {
    const conds: Obj[] = st.conditions ?? [];
    const failed = conds.find((c) => c.type === 'Failed' && c.status === 'True');
    if (failed) return { ready: false, failed: `the job failed: ${failed.reason ?? ''}${failed.message ? ` (${failed.message})` : ''}` };
    if (conds.some((c) => c.type === 'Complete' && c.status === 'True')) return { ready: true };
    return { ready: false, waiting: `not complete (${st.active ?? 0} running, ${st.failed ?? 0} failed)` };
  }
  return { ready: true };
}

export const WAITED_KINDS = new Set(['Deployment', 'StatefulSet', 'Job']);
