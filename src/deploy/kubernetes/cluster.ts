// The cluster, thin over @kubernetes/client-node: the kubeconfig (context,
// credentials, TLS) and the library's discovery and URL building are the
// library's; this only sends the few requests deploy needs and hands back
// objects as the server wrote them (raw JSON: the library's typed models
// would drop fields they do not know and turn timestamps into Dates, and the
// diff must see what the server said).

import { ApiException, HttpMethod, KubeConfig, KubernetesObjectApi, PatchStrategy, type RequestContext, type ResponseContext } from '@kubernetes/client-node';
import { TsstackError } from '../../util/errors.js';
import type { K8sObject } from './types.js';

export const FIELD_MANAGER = 'tsstack';

/** What deploy asks of a cluster (a fake in tests can stand for it; the real one is `Cluster`). */
export interface ClusterApi {
  readonly server: string;
  readonly context: string;
  /** The context's namespace, or `default`. */
  readonly defaultNamespace: string;
  /** Server-side apply as field manager tsstack, never forcing; `dryRun` changes nothing. */
  apply(o: K8sObject, dryRun: boolean): Promise<K8sObject>;
  /** The live object, or undefined when there is none. */
  get(o: K8sObject): Promise<K8sObject | undefined>;
  list(apiVersion: string, kind: string, namespace: string, labelSelector: string): Promise<K8sObject[]>;
  delete(o: K8sObject): Promise<void>;
  /** false when the namespace does not exist; true also when we may not read it (the apply will tell). */
  namespaceExists(ns: string): Promise<boolean>;
}

/** KubernetesObjectApi with raw JSON responses (its typed deserialization bypassed). */
class RawObjectApi extends KubernetesObjectApi {
  protected override async processResponse<T>(response: ResponseContext): Promise<T> {
    const text = await response.body.text();
    let data: unknown = text;
    try {
      data = text ? JSON.parse(text) : {};
    } catch { /* not JSON: kept as text for the error */ }
    if (response.httpStatusCode >= 200 && response.httpStatusCode <= 299) return data as T;
    throw new ApiException(response.httpStatusCode, 'Unsuccessful HTTP Request', data, response.headers);
  }

  private async send<T>(path: string, method: HttpMethod, query: Record<string, string>, body?: { type: string; text: string }): Promise<T> {
    const req: RequestContext = this.configuration.baseServer.makeRequestContext(path, method);
    req.setHeaderParam('Accept', 'application/json');
    for (const [k, v] of Object.entries(query)) req.setQueryParam(k, v);
    if (body) {
      req.setHeaderParam('Content-Type', body.type);
      req.setBody(body.text);
    }
    return this.requestPromise(req) as Promise<T>;
  }

  async applyRaw(o: K8sObject, dryRun: boolean): Promise<K8sObject> {
    const path = await this.specUriPath(structuredClone(o), 'patch');
    // JSON is YAML: the apply body is the object as rendered, every field of it
    return this.send(path, HttpMethod.PATCH, { fieldManager: FIELD_MANAGER, force: 'false', ...(dryRun ? { dryRun: 'All' } : {}) }, { type: PatchStrategy.ServerSideApply, text: JSON.stringify(o) });
  }

  async getRaw(o: K8sObject): Promise<K8sObject> {
    return this.send(await this.specUriPath(structuredClone(o), 'read'), HttpMethod.GET, {});
  }

  async listRaw(apiVersion: string, kind: string, namespace: string, labelSelector: string): Promise<K8sObject[]> {
    const path = await this.specUriPath({ apiVersion, kind, metadata: { namespace } }, 'list');
    const items: K8sObject[] = [];
    let cont: string | undefined;
    do {
      const page = await this.send<{ items?: K8sObject[]; metadata?: { continue?: string } }>(path, HttpMethod.GET, { labelSelector, limit: '500', ...(cont ? { continue: cont } : {}) });
      // list items carry no apiVersion/kind: the list's own
      for (const it of page.items ?? []) items.push({ ...it, apiVersion, kind });
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return items;
  }

  async deleteRaw(o: K8sObject): Promise<void> {
    // Background: a Job's pods and a Deployment's ReplicaSets go with it (the API's default for Jobs is to orphan them)
    await this.send(await this.specUriPath(structuredClone(o), 'delete'), HttpMethod.DELETE, { propagationPolicy: 'Background' });
  }
}

export class Cluster implements ClusterApi {
  private readonly api: RawObjectApi;
  readonly server: string;
  readonly context: string;
  readonly defaultNamespace: string;

  constructor(kc: KubeConfig) {
    this.api = kc.makeApiClient(RawObjectApi);
    this.server = kc.getCurrentCluster()?.server ?? '(no server)';
    this.context = kc.getCurrentContext();
    this.defaultNamespace = kc.getContextObject(this.context)?.namespace || 'default';
  }

  /** The kubeconfig as kubectl finds it (KUBECONFIG, a `:` list merged first file first; else ~/.kube/config or in-cluster), at `context` when given. */
  static load(context: string | undefined, env: NodeJS.ProcessEnv = process.env): Cluster {
    const kc = new KubeConfig();
    const files = (env.KUBECONFIG ?? '').split(':').filter(Boolean);
    try {
      if (!files.length) kc.loadFromDefault();
      else {
        kc.loadFromFile(files[0]!);
        for (const f of files.slice(1)) {
          const more = new KubeConfig();
          more.loadFromFile(f);
          kc.mergeConfig(more, true);
        }
      }
    } catch (e) {
      throw new TsstackError('REMOTE', `cannot read the kubeconfig: ${(e as Error).message}`, { hint: 'check KUBECONFIG (or ~/.kube/config)' });
    }
    if (context !== undefined) {
      if (!kc.getContextObject(context)) {
        throw new TsstackError('NOT_FOUND', `no context ${JSON.stringify(context)} in the kubeconfig`, { hint: `contexts: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'}` });
      }
      kc.setCurrentContext(context);
    }
    // with no kubeconfig anywhere the library makes one up (http://localhost:8080): say there is none instead
    const none = !files.length && kc.getCurrentContext() === 'loaded-context' && kc.getCurrentCluster()?.server === 'http://localhost:8080';
    if (!kc.getCurrentCluster() || none) throw new TsstackError('REMOTE', 'no kubeconfig names a cluster to deploy to', { hint: 'set KUBECONFIG (or write ~/.kube/config) for the cluster, or give --context' });
    return new Cluster(kc);
  }

  apply(o: K8sObject, dryRun: boolean): Promise<K8sObject> {
    return this.api.applyRaw(o, dryRun);
  }

  async get(o: K8sObject): Promise<K8sObject | undefined> {
    try {
      return await this.api.getRaw(o);
    } catch (e) {
      if (e instanceof ApiException && e.code === 404 && !isNamespaceMissing(e.body)) return undefined;
      throw e;
    }
  }

  list(apiVersion: string, kind: string, namespace: string, labelSelector: string): Promise<K8sObject[]> {
    return this.api.listRaw(apiVersion, kind, namespace, labelSelector);
  }

  async delete(o: K8sObject): Promise<void> {
    try {
      await this.api.deleteRaw(o);
    } catch (e) {
      if (e instanceof ApiException && e.code === 404) return; // gone already: what was asked
      throw e;
    }
  }

  async namespaceExists(ns: string): Promise<boolean> {
    try {
      await this.api.getRaw({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
      return true;
    } catch (e) {
      if (e instanceof ApiException && e.code === 404) return false;
      if (e instanceof ApiException && e.code === 403) return true; // may not read namespaces: the apply will say if it is missing
      throw e;
    }
  }
}

/** A 404 about the namespace, not the object (a GET in a missing namespace). */
function isNamespaceMissing(body: unknown): boolean {
  return typeof body === 'object' && body !== null && (body as { details?: { kind?: string } }).details?.kind === 'namespaces';
}
