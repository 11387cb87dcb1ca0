// What the client library throws → one error for people, with the exit code of
// the table: the cluster unreachable, its certificate or our credentials
// refused, or a request refused (REMOTE, 9); the namespace missing (NOT_FOUND,
// 3); a field of an object owned by another field manager (CONFLICT, 4). Pure:
// it reads the error's code, HTTP status and the API's Status body.

import { TsstackError } from '../../util/errors.js';

export interface Where {
  /** The API server's address and the kubeconfig context (for the hint). */
  server: string;
  context: string;
  /** The object the request was about, `Deployment/web`. */
  object?: string;
  namespace?: string;
  /** What had been applied when it failed (said, so the user knows what the cluster now holds). */
  applied?: string[];
}

interface Status {
  kind?: string;
  reason?: string;
  message?: string;
  details?: { name?: string; kind?: string; causes?: { reason?: string; message?: string; field?: string }[] };
}

const NETWORK = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE', 'ECONNABORTED']);
const TLS = /^(CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_TLS_|ERR_SSL_|EPROTO$|ERR_OSSL_)/;

/** The HTTP status and API Status of an ApiException (duck-typed: the class is the library's). */
function apiFailure(e: unknown): { status: number; body: Status } | undefined {
  const x = e as { code?: unknown; body?: unknown };
  if (typeof x?.code !== 'number') return undefined;
  let body: Status = {};
  if (typeof x.body === 'string') {
    try {
      body = JSON.parse(x.body) as Status;
    } catch {
      body = { message: x.body };
    }
  } else if (x.body && typeof x.body === 'object') body = x.body as Status;
  return { status: x.code, body };
}

function systemCode(e: unknown): string | undefined {
  for (let x = e as { code?: unknown; cause?: unknown } | undefined, i = 0; x && i < 5; x = x.cause as typeof x, i++) {
    if (typeof x.code === 'string') return x.code;
  }
  return undefined;
}

function appliedDetails(w: Where): string[] {
  if (!w.applied) return [];
  return [w.applied.length ? `applied before the failure: ${w.applied.join(', ')}` : 'nothing was applied'];
}

export function clusterError(e: unknown, w: Where): TsstackError {
  if (e instanceof TsstackError) return e;
  const about = w.object ? `${w.object}: ` : '';
  const details = appliedDetails(w);
  const api = apiFailure(e);
  if (api) {
    const { status, body } = api;
    const msg = body.message ?? `HTTP ${status}`;
    if (status === 409 && (body.details?.causes ?? []).some((c) => c.reason === 'FieldManagerConflict')) {
      const causes = body.details!.causes!.filter((c) => c.reason === 'FieldManagerConflict');
      const managers = [...new Set(causes.map((c) => /conflict with "([^"]+)"/.exec(c.message ?? '')?.[1] ?? 'another manager'))];
      return new TsstackError('CONFLICT', `${about}${causes.length === 1 ? 'a field is' : `${causes.length} fields are`} owned by field manager ${managers.map((m) => JSON.stringify(m)).join(', ')}, not tsstack`, {
        details: [...causes.map((c) => `${c.field ?? '?'}: ${c.message ?? ''}`), ...details],
        hint: `another tool (${managers.join(', ')}) manages this object; change it there, or give it to tsstack: delete it, or re-apply it once with \`kubectl apply --server-side --force-conflicts --field-manager tsstack\``,
        cause: e,
      });
    }
    if (status === 404 && (body.details?.kind === 'namespaces' || /^namespaces? "[^"]*" not found/.test(msg))) {
      const ns = body.details?.name ?? w.namespace ?? '';
      return new TsstackError('NOT_FOUND', `namespace ${JSON.stringify(ns)} does not exist in the cluster of context ${w.context}`, {
        details, hint: `create it (kubectl create namespace ${ns}) or choose another with --namespace`, cause: e,
      });
    }
    if (status === 401) {
      return new TsstackError('REMOTE', `the API server at ${w.server} refused the credentials of context ${w.context} (401 Unauthorized)`, {
        details, hint: 'refresh the credentials in your kubeconfig (an expired token or certificate?), or choose another context with --context', cause: e,
      });
    }
    if (status === 403) {
      return new TsstackError('REMOTE', `${about}forbidden: ${msg}`, {
        details, hint: `the user of context ${w.context} may not do this; the deploy needs get, list, patch and delete on the kinds it renders in the namespace`, cause: e,
      });
    }
    return new TsstackError('REMOTE', `${about}the API server refused the request (${status}${body.reason ? ` ${body.reason}` : ''}): ${msg}`, { details, cause: e });
  }
  const code = systemCode(e);
  const text = e instanceof Error ? e.message.replace(/^Failed to fetch resource metadata for [^:]+: /, '') : String(e);
  if (code && NETWORK.has(code)) {
    return new TsstackError('REMOTE', `cannot reach the Kubernetes API server at ${w.server} (context ${w.context}): ${code}`, {
      details: [text, ...details], hint: 'is the cluster running and reachable from here? check KUBECONFIG and --context', cause: e,
    });
  }
  if ((code && TLS.test(code)) || /certificate|self[- ]signed|TLS|SSL/i.test(text)) {
    return new TsstackError('REMOTE', `TLS with the API server at ${w.server} failed (context ${w.context}): ${code ?? text}`, {
      details: [text, ...details], hint: 'the server\'s certificate is not the one the kubeconfig trusts (certificate-authority-data), or it expired', cause: e,
    });
  }
  if (/HTTP protocol is not allowed/.test(text)) {
    return new TsstackError('REMOTE', `the API server address ${w.server} of context ${w.context} is plain HTTP`, {
      details, hint: 'use its https:// address, or set insecure-skip-tls-verify: true on that cluster in the kubeconfig if you mean it', cause: e,
    });
  }
  if (/Unrecognized API version and kind/.test(text)) {
    return new TsstackError('REMOTE', `${about}the cluster does not serve this kind: ${text}`, { details, hint: 'the cluster is older than the render expects (Kubernetes 1.25 or later)', cause: e });
  }
  return new TsstackError('REMOTE', `${about}${text}`, { details, cause: e });
}
