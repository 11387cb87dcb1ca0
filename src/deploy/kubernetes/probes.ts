// healthcheck → probes. The same check is the readiness probe (a Service
// sends traffic only to healthy pods, as depends_on: service_healthy waits
// for health) and the liveness probe (Docker restarts nothing on an unhealthy
// check, but an orchestrator is expected to: Swarm does). start_period /
// start_interval become a startup probe that holds the others back, which is
// what start_period means: failures in it do not count.

import type { HealthcheckSpec } from '../../model/types.js';
import type { RenderCtx } from './types.js';

/** Docker's defaults when a key is left out. */
const DEFAULT_INTERVAL = 30_000;
const DEFAULT_TIMEOUT = 30_000;
const DEFAULT_RETRIES = 3;

export interface Probes {
  readinessProbe?: Record<string, unknown>;
  livenessProbe?: Record<string, unknown>;
  startupProbe?: Record<string, unknown>;
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

export function probesFor(ctx: RenderCtx, svc: string, hc: HealthcheckSpec | undefined): Probes {
  if (!hc || hc.disable || !hc.test?.length || hc.test[0] === 'NONE') return {};
  const at = ['services', svc, 'healthcheck'];
  const [kind, ...rest] = hc.test;
  let command: string[];
  if (kind === 'CMD') command = rest;
  else if (kind === 'CMD-SHELL') command = ['/bin/sh', '-c', rest.join(' ')];
  else {
    ctx.warn([...at, 'test'], `healthcheck test of kind ${JSON.stringify(kind)} has no probe form; no probes rendered`);
    return {};
  }
  const interval = hc.interval ?? DEFAULT_INTERVAL;
  for (const k of ['interval', 'timeout'] as const) {
    const v = hc[k];
    if (v !== undefined && v % 1000 !== 0) ctx.warn([...at, k], `probes count whole seconds: ${k} ${v}ms is rounded up to ${seconds(v)}s`);
  }
  const base = {
    exec: { command },
    periodSeconds: seconds(interval),
    timeoutSeconds: seconds(hc.timeout ?? DEFAULT_TIMEOUT),
    failureThreshold: Math.max(1, hc.retries ?? DEFAULT_RETRIES),
  };
  const out: Probes = { readinessProbe: { ...base }, livenessProbe: { ...base } };
  if (hc.start_period !== undefined && hc.start_period > 0) {
    // During start_period the check runs every start_interval (Docker's default 5s) and failures do not count;
    // the first success ends it. After it, a failure counts as usual: the startup probe allows the period plus the retries.
    const every = hc.start_interval ?? 5_000;
    out.startupProbe = { ...base, periodSeconds: seconds(every), failureThreshold: Math.ceil(hc.start_period / (seconds(every) * 1000)) + base.failureThreshold };
  } else if (hc.start_interval !== undefined) ctx.warn([...at, 'start_interval'], 'start_interval without start_period has no effect (as in Compose); not rendered');
  return out;
}
