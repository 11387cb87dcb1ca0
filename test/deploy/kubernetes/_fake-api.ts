// A small Kubernetes API server on 127.0.0.1 for the loopback tests: just the endpoints deploy calls
// (discovery, namespace GET, server-side apply PATCH with and without dryRun, GET, list by
// labelSelector, DELETE), answering as the real API does (Status bodies, 404/409/401 with their
// reasons, server fields on every object). It records every request. The real client library talks
// to it through a kubeconfig file.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';

type Obj = Record<string, any>;

const RESOURCES: Record<string, [string, string, boolean][]> = {
  v1: [['namespaces', 'Namespace', false], ['serviceaccounts', 'ServiceAccount', true], ['secrets', 'Secret', true], ['configmaps', 'ConfigMap', true], ['persistentvolumeclaims', 'PersistentVolumeClaim', true], ['services', 'Service', true], ['pods', 'Pod', true]],
  'apps/v1': [['deployments', 'Deployment', true], ['statefulsets', 'StatefulSet', true]],
  'batch/v1': [['jobs', 'Job', true]],
  'networking.k8s.io/v1': [['networkpolicies', 'NetworkPolicy', true]],
  'rbac.authorization.k8s.io/v1': [['roles', 'Role', true], ['rolebindings', 'RoleBinding', true]],
};

export interface Request {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType?: string;
  body?: Obj;
}

export interface FakeApi {
  url: string;
  /** A kubeconfig with contexts `fake` (namespace ns1, the right token) and `badtoken`. */
  kubeconfig: string;
  requests: Request[];
  namespaces: Set<string>;
  /** Stored objects by `apiVersion/kind/ns/name`. */
  store: Map<string, Obj>;
  /** `Kind/name` → the manager that owns `field` (an apply that sets it again is a 409). */
  conflicts: Map<string, { manager: string; field: string }>;
  /** Answer every PATCH with this status (403: forbidden). */
  denyPatch?: number;
  /** Called on each GET of an object: lets a test move its status along. */
  onGet?: (o: Obj) => void;
  put(o: Obj): void;
  close(): Promise<void>;
}

const TOKEN = 'test-token';

function key(apiVersion: string, kind: string, ns: string, name: string): string {
  return `${apiVersion}/${kind}/${ns}/${name}`;
}

function status(res: ServerResponse, code: number, reason: string, message: string, details?: Obj): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code }));
}

function json(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function matches(o: Obj, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return o.metadata?.labels?.[k!] === v;
  });
}

/** What the server adds: bookkeeping, defaults, a cluster IP; an object's status and allocated IP are kept. */
function serverSide(body: Obj, live: Obj | undefined, rv: number): Obj {
  const o: Obj = structuredClone(body);
  const changed = !live || JSON.stringify(live.spec) !== JSON.stringify(serverDefaults(structuredClone(body)).spec);
  o.metadata = {
    ...o.metadata,
    uid: live?.metadata.uid ?? `uid-${rv}`,
    resourceVersion: String(rv),
    creationTimestamp: live?.metadata.creationTimestamp ?? '2026-01-01T00:00:00Z',
    generation: (live?.metadata.generation ?? 0) + (changed ? 1 : 0),
    managedFields: [{ manager: 'tsstack', operation: 'Apply', apiVersion: o.apiVersion, time: new Date(rv * 1000).toISOString(), fieldsType: 'FieldsV1', fieldsV1: {} }],
  };
  serverDefaults(o);
  if (o.kind === 'Service' && o.spec?.clusterIP !== 'None') o.spec.clusterIP = live?.spec?.clusterIP ?? `10.96.0.${rv % 250}`;
  if (live?.status) o.status = live.status;
  return o;
}

function serverDefaults(o: Obj): Obj {
  if (o.kind === 'Deployment') {
    o.spec = { revisionHistoryLimit: 10, progressDeadlineSeconds: 600, ...o.spec };
    o.spec.strategy ??= { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } };
    for (const c of o.spec.template?.spec?.containers ?? []) {
      c.terminationMessagePath ??= '/dev/termination-log';
      c.imagePullPolicy ??= 'IfNotPresent';
    }
  }
  if (o.kind === 'Service') o.spec = { sessionAffinity: 'None', ...o.spec };
  return o;
}

export async function startFakeApi(teardown: (f: () => void | Promise<void>) => void): Promise<FakeApi> {
  let rv = 100;
  const fake = {
    requests: [] as Request[],
    namespaces: new Set(['default', 'ns1']),
    store: new Map<string, Obj>(),
    conflicts: new Map<string, { manager: string; field: string }>(),
  } as FakeApi;
  fake.put = (o: Obj) => fake.store.set(key(o.apiVersion, o.kind, o.metadata.namespace ?? '', o.metadata.name), serverSide(o, undefined, ++rv));

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const u = new URL(req.url!, 'http://x');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const r: Request = { method: req.method!, path: u.pathname, query: Object.fromEntries(u.searchParams), contentType: req.headers['content-type'] };
    if (text) r.body = JSON.parse(text);
    fake.requests.push(r);
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return status(res, 401, 'Unauthorized', 'Unauthorized');
    // discovery
    const disc = /^\/(?:api\/(v1)|apis\/([^/]+\/[^/]+))$/.exec(u.pathname);
    if (disc && req.method === 'GET') {
      const gv = disc[1] ?? disc[2]!;
      const list = RESOURCES[gv];
      if (!list) return status(res, 404, 'NotFound', 'the server could not find the requested resource');
      return json(res, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv, resources: list.map(([name, kind, namespaced]) => ({ name, singularName: '', namespaced, kind, verbs: ['get', 'list', 'patch', 'delete'] })) });
    }
    const m = /^\/(?:api\/(v1)|apis\/([^/]+\/[^/]+))\/(?:namespaces\/([^/]+)\/)?([^/]+)(?:\/([^/]+))?$/.exec(u.pathname);
    if (!m) return status(res, 404, 'NotFound', 'the server could not find the requested resource');
    const gv = m[1] ?? m[2]!;
    let [ns, resource, name] = [m[3], m[4]!, m[5]];
    // /api/v1/namespaces/NAME: the namespace itself
    if (gv === 'v1' && ns === undefined && resource === 'namespaces' && name) {
      if (!fake.namespaces.has(name)) return status(res, 404, 'NotFound', `namespaces "${name}" not found`, { name, kind: 'namespaces' });
      return json(res, { apiVersion: 'v1', kind: 'Namespace', metadata: { name }, status: { phase: 'Active' } });
    }
    const kind = RESOURCES[gv]?.find((x) => x[0] === resource)?.[1];
    if (!kind) return status(res, 404, 'NotFound', 'the server could not find the requested resource');
    ns ??= '';
    if (ns && !fake.namespaces.has(ns) && req.method !== 'GET') return status(res, 404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' });
    if (req.method === 'GET' && !name) {
      const items = [...fake.store.values()].filter((o) => o.apiVersion === gv && o.kind === kind && (o.metadata.namespace ?? '') === ns && matches(o, u.searchParams.get('labelSelector') ?? undefined));
      // list items carry no apiVersion/kind, as the real server's typed lists
      return json(res, { kind: `${kind}List`, apiVersion: gv, metadata: { resourceVersion: String(rv) }, items: items.map(({ apiVersion: _a, kind: _k, ...rest }) => rest) });
    }
    const k = key(gv, kind, ns, name!);
    const live = fake.store.get(k);
    if (req.method === 'GET') {
      if (!live) return status(res, 404, 'NotFound', `${resource} "${name}" not found`, { name, kind: resource });
      fake.onGet?.(live);
      return json(res, live);
    }
    if (req.method === 'DELETE') {
      if (!live) return status(res, 404, 'NotFound', `${resource} "${name}" not found`, { name, kind: resource });
      fake.store.delete(k);
      return json(res, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, kind: resource, uid: live.metadata.uid } });
    }
    if (req.method === 'PATCH') {
      if (fake.denyPatch) return status(res, fake.denyPatch, 'Forbidden', `${resource} "${name}" is forbidden: User "dev" cannot patch resource "${resource}" in API group "${gv.includes('/') ? gv.split('/')[0] : ''}" in the namespace "${ns}"`, { name, kind: resource });
      if (r.contentType !== 'application/apply-patch+yaml') return status(res, 415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/apply-patch+yaml`);
      if (!r.query.fieldManager) return status(res, 422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
      const c = fake.conflicts.get(`${kind}/${name}`);
      if (c && live && r.query.force !== 'true') {
        return status(res, 409, 'Conflict', `Apply failed with 1 conflict: conflict with "${c.manager}" using ${gv}: ${c.field}`, { causes: [{ reason: 'FieldManagerConflict', message: `conflict with "${c.manager}" using ${gv}`, field: c.field }] });
      }
      const body = r.body as Obj;
      if (body.metadata?.name !== name || body.kind !== kind) return status(res, 400, 'BadRequest', 'the name of the object does not match the name on the URL');
      const out = serverSide(body, live, r.query.dryRun === 'All' ? rv + 1 : ++rv);
      if (r.query.dryRun !== 'All') fake.store.set(k, out);
      return json(res, out);
    }
    return status(res, 405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
  };

  const server = createServer((req, res) => void handle(req, res).catch((e) => status(res, 500, 'InternalError', String(e))));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-kubeconfig-'));
  const kubeconfig = join(dir, 'config');
  writeFileSync(kubeconfig, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'fake',
    clusters: [{ name: 'fake', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'dev', user: { token: TOKEN } }, { name: 'stale', user: { token: 'expired' } }],
    contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'dev', namespace: 'ns1' } }, { name: 'badtoken', context: { cluster: 'fake', user: 'stale' } }],
  }));
  fake.url = url;
  fake.kubeconfig = kubeconfig;
  let closed = false;
  fake.close = async () => {
    if (closed) return;
    closed = true;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  teardown(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return fake;
}
