// The dashboard's server over a fake engine: who is let in (token, Host, Origin), what the
// API answers, what the pages are sent, and that nothing asks the engine while no page listens.
import test, { type ExecutionContext } from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import type { ContainerCreateSpec, ContainerInfo } from '../../src/engine/api.js';
import { LABEL } from '../../src/engine/api.js';
import { createApp, type UiActions } from '../../src/ui/app.js';
import { cookieToken, hostAllowed, originAllowed, tokenMatches } from '../../src/ui/auth.js';
import { Hub, type PlanView } from '../../src/ui/hub.js';
import { ASSETS, INDEX, startServer } from '../../src/ui/server.js';
import { CrashTracker, servicesView } from '../../src/ui/view.js';
import { FakeEngine } from '../fakes/engine.js';
import { takeEvents } from './_sse.js';

const TOKEN = 'A'.repeat(32);
const PORT = 4000;
const HOST = `127.0.0.1:${PORT}`;

function spec(project: string, service: string, extra: Partial<ContainerCreateSpec> = {}): ContainerCreateSpec {
  return {
    name: `${project}-${service}-1`, image: 'busybox', imageId: 'sha256:bb', labels: { [LABEL.project]: project, [LABEL.service]: service, [LABEL.number]: '1' },
    args: ['sh'], env: [], cwd: '/', hostname: service, mounts: [], endpoints: [], ports: [], resources: {}, restart: 'always', stopSignal: 'SIGTERM', stopGracePeriod: 1000, ...extra,
  };
}

async function fixture(t: ExecutionContext) {
  const engine = new FakeEngine();
  const web = await engine.containers.create(spec('demo', 'web', { ports: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }], healthcheck: { test: ['CMD', 'true'], interval: 1000, timeout: 1000, retries: 3, startPeriod: 0, startInterval: 0 } }));
  const db = await engine.containers.create(spec('demo', 'db'));
  const other = await engine.containers.create(spec('elsewhere', 'web'));
  for (const c of [web, db, other]) await engine.containers.start(c.id);
  let fingerprints = 0;
  const fp = engine.stateFingerprint.bind(engine);
  engine.stateFingerprint = async () => { fingerprints++; return fp(); };
  const plan: PlanView = { text: 'service:web  recreate (image changed)', empty: false, warnings: [], problems: [], at: new Date(0).toISOString() };
  const hub = new Hub({ engine, project: 'demo', model: async () => undefined, plan: async () => plan, pollMs: 20, statsMs: 50 });
  const calls: string[] = [];
  const actions: UiActions = {
    restart: async (c) => { calls.push(`restart ${c.name}`); },
    stop: async (c) => { calls.push(`stop ${c.name}`); await engine.containers.stop(c.id); },
    start: async (c) => { calls.push(`start ${c.name}`); },
    exec: async (c, command) => { calls.push(`exec ${c.name} ${command}`); return { code: 0, output: 'hi\n' }; },
    apply: async () => { calls.push('apply'); hub.begin('dashboard: apply').done({ failed: [], warnings: [] }); },
  };
  // the app on a real server, asked with any Host header (fetch would not send one of ours)
  const app = http.createServer(createApp(hub, actions, { token: TOKEN, port: () => PORT, assets: ASSETS, index: INDEX }));
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  t.teardown(() => { hub.close(); app.closeAllConnections(); app.close(); });
  const req = (path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) => new Promise<Response>((resolve, reject) => {
    const port = (app.address() as AddressInfo).port;
    const r = http.request({ host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: { host: HOST, ...init.headers } }, (res) => {
      const headers = new Headers();
      for (const [k, v] of Object.entries(res.headers)) for (const x of [v ?? []].flat()) headers.append(k, x);
      resolve(new Response(Readable.toWeb(res) as ReadableStream, { status: res.statusCode, headers }));
    });
    r.on('error', reject);
    r.end(init.body);
  });
  const auth = { cookie: `tsstack_ui=${TOKEN}` };
  return { engine, hub, app, req, auth, calls, web, db, other, fingerprints: () => fingerprints };
}

test('every route answers 401 without the token, or with a wrong one', async (t) => {
  const f = await fixture(t);
  for (const [method, path] of [['GET', '/'], ['GET', '/api/state'], ['GET', '/api/events'], ['GET', '/api/logs'], ['GET', '/assets/app.js'], ['POST', `/api/containers/${f.web.id}/restart`], ['POST', '/api/apply']]) {
    const none = await f.req(path, { method, headers: { 'content-type': 'application/json' } });
    t.is(none.status, 401, `${method} ${path}`);
    const wrong = await f.req(`${path}?token=${'B'.repeat(32)}`, { method, headers: { 'content-type': 'application/json', cookie: `tsstack_ui=${'A'.repeat(31)}` } });
    t.is(wrong.status, 401, `${method} ${path} (wrong token)`);
  }
  t.deepEqual(f.calls, [], 'no action ran');
  t.is(f.fingerprints(), 0, 'the engine was not asked');
});

test('a Host other than 127.0.0.1 or localhost with our port is refused (DNS rebinding), even with the token', async (t) => {
  const f = await fixture(t);
  for (const host of ['evil.example:4000', 'evil.example', '127.0.0.1:4001', '127.0.0.2:4000', '']) {
    const r = await f.req('/api/state', { headers: { host, ...f.auth } });
    t.is(r.status, 403, host);
  }
  t.is((await f.req('/api/state', { headers: { host: 'localhost:4000', ...f.auth } })).status, 200);
  t.is((await f.req('/api/state', { headers: f.auth })).status, 200);
});

test('a page of another origin cannot act, and no CORS header is ever sent', async (t) => {
  const f = await fixture(t);
  const r = await f.req(`/api/containers/${f.web.id}/restart`, { method: 'POST', headers: { ...f.auth, origin: 'http://evil.example', 'content-type': 'application/json' } });
  t.is(r.status, 403);
  t.deepEqual(f.calls, []);
  const ok = await f.req('/api/state', { headers: { ...f.auth, origin: `http://${HOST}` } });
  t.is(ok.status, 200);
  t.is(ok.headers.get('access-control-allow-origin'), null);
  t.is(r.headers.get('access-control-allow-origin'), null);
  t.regex(ok.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
  // a form post (no JSON) is refused too
  const form = await f.req(`/api/containers/${f.web.id}/restart`, { method: 'POST', headers: { ...f.auth, 'content-type': 'application/x-www-form-urlencoded' } });
  t.is(form.status, 415);
});

test('the token in the URL is traded for an HttpOnly SameSite=Strict cookie and dropped from the address', async (t) => {
  const f = await fixture(t);
  const r = await f.req(`/?token=${TOKEN}`);
  t.is(r.status, 303);
  t.is(r.headers.get('location'), '/');
  const cookie = r.headers.get('set-cookie') ?? '';
  t.regex(cookie, /^tsstack_ui=A{32}; /);
  t.regex(cookie, /HttpOnly/);
  t.regex(cookie, /SameSite=Strict/);
  const page = await f.req('/', { headers: { cookie: cookie.split(';')[0] } });
  t.is(page.status, 200);
  t.regex(await page.text(), /<script type="module" src="\/assets\/app.js">/);
  t.is((await f.req('/api/state', { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
});

test('assets come from a fixed list: no path from the request reaches the file system', async (t) => {
  const f = await fixture(t);
  t.is((await f.req('/assets/app.js', { headers: f.auth })).status, 200);
  t.regex((await f.req('/assets/xterm.js', { headers: f.auth })).headers.get('content-type') ?? '', /javascript/);
  for (const p of ['/assets/..%2F..%2Fpackage.json', '/assets/__proto__', '/assets/constructor', '/assets/index.html']) t.is((await f.req(p, { headers: f.auth })).status, 404, p);
});

test('the state: the project\'s services only, with state, health, ports as links, restarts; the plan', async (t) => {
  const f = await fixture(t);
  const s = await (await f.req('/api/state', { headers: f.auth })).json() as Awaited<ReturnType<Hub['snapshot']>>;
  t.is(s.project, 'demo');
  t.deepEqual(s.services.map((x) => [x.name, x.state, x.replicas.running]), [['db', 'ok', 1], ['web', 'ok', 1]]);
  const web = s.services.find((x) => x.name === 'web')!;
  t.is(web.containers[0].health, 'healthy');
  t.deepEqual(web.ports, [{ hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80, protocol: 'tcp', url: 'http://127.0.0.1:8080/' }]);
  t.is(s.plan?.text, 'service:web  recreate (image changed)');
});

test('actions reach only the project\'s containers; exec takes one line', async (t) => {
  const f = await fixture(t);
  const post = (path: string, body = {}) => f.req(path, { method: 'POST', headers: { ...f.auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  t.is((await post(`/api/containers/${f.web.id}/restart`)).status, 200);
  t.is((await post(`/api/containers/${f.db.name}/stop`)).status, 200);
  t.is((await post(`/api/containers/${f.other.id}/restart`)).status, 404, 'another project\'s container');
  t.is((await post('/api/containers/nope/start')).status, 404);
  const ex = await post(`/api/containers/${f.web.id}/exec`, { command: 'echo hi' });
  t.deepEqual(await ex.json(), { code: 0, output: 'hi\n' });
  t.is((await post(`/api/containers/${f.web.id}/exec`, { command: 'echo a\nreboot' })).status, 400);
  t.is((await post(`/api/containers/${f.web.id}/exec`, {})).status, 400);
  t.is((await post(`/api/containers/${f.db.id}/exec`, { command: 'true' })).status, 409, 'a stopped container');
  const ap = await (await post('/api/apply')).json() as { history: { trigger: string; state: string } };
  t.is(ap.history.trigger, 'dashboard: apply');
  t.deepEqual(f.calls, ['restart demo-web-1', 'stop demo-db-1', 'exec demo-web-1 echo hi', 'apply']);
});

/** Reads SSE events from a response until `until` says stop (or `ms` pass). */
async function readEvents(res: Response, until: (events: { type: string; data: any }[]) => boolean, ms = 3000): Promise<{ type: string; data: any }[]> {
  const reader = res.body!.getReader();
  const events: { type: string; data: any }[] = [];
  let buf = '';
  const timer = setTimeout(() => void reader.cancel(), ms);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const taken = takeEvents(buf + new TextDecoder().decode(value));
      buf = taken.rest;
      events.push(...taken.events);
      if (until(events)) break;
    }
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
  }
  return events;
}

test('the event stream: a snapshot, then each change pushed; the engine is asked only while a page listens', async (t) => {
  const f = await fixture(t);
  await new Promise((r) => setTimeout(r, 100));
  t.is(f.fingerprints(), 0, 'nobody listening: no look at the engine');
  const res = await f.req('/api/events', { headers: f.auth });
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type') ?? '', /text\/event-stream/);
  setTimeout(() => void f.engine.containers.stop(f.web.id), 100);
  const events = await readEvents(res, (es) => es.some((e) => e.type === 'services' && e.data.find((s: any) => s.name === 'web').state === 'off') && es.some((e) => e.type === 'stats'));
  t.is(events[0].type, 'snapshot');
  t.deepEqual(events[0].data.services.map((s: any) => s.name), ['db', 'web']);
  t.true(events.some((e) => e.type === 'services'), JSON.stringify(events.map((e) => e.type)));
  const stats = events.find((e) => e.type === 'stats')!;
  t.deepEqual(Object.values(stats.data)[0], { t: (Object.values(stats.data)[0] as any).t, cpu: 0, mem: 1024, pids: 1, rx: 0, tx: 0 });
  await new Promise((r) => setTimeout(r, 100));
  t.is(f.hub.listening, 0, 'the closed stream unsubscribed');
  const after = f.fingerprints();
  await new Promise((r) => setTimeout(r, 150));
  t.is(f.fingerprints(), after, 'and the polling stopped with it');
});

test('logs: merged lines with service, container and colour index', async (t) => {
  const f = await fixture(t);
  const res = await f.req('/api/logs?service=web&service=db&tail=10', { headers: f.auth });
  const events = await readEvents(res, (es) => es.length >= 2);
  const lines = events.map((e) => e.data).sort((a, b) => (a.service < b.service ? -1 : 1));
  t.deepEqual(lines.map((l) => [l.service, l.container, l.line, l.colour]), [['db', 'demo-db-1', 'hello from demo-db-1\n', 0], ['web', 'demo-web-1', 'hello from demo-web-1\n', 1]]);
});

test('the WebSocket of the terminal is refused without the token, with a foreign Host or Origin', async (t) => {
  const f = await fixture(t);
  const srv = await startServer({ hub: f.hub, actions: {} as UiActions, shell: () => { throw new Error('no shell in this test'); } });
  t.teardown(() => srv.close());
  t.regex(srv.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{32}$/);
  const upgrade = (headers: Record<string, string>, path = `/api/shell?container=${f.web.id}`) => new Promise<number>((resolve) => {
    const r = http.request({ host: '127.0.0.1', port: srv.port, path, headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers } });
    r.on('response', (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    r.on('upgrade', (res, socket) => { socket.destroy(); resolve(res.statusCode ?? 101); });
    r.on('error', () => resolve(-1));
    r.end();
  });
  const host = `127.0.0.1:${srv.port}`;
  const origin = `http://${host}`;
  t.is(await upgrade({ host, origin }), 401);
  t.is(await upgrade({ host, origin, cookie: `tsstack_ui=${'x'.repeat(32)}` }), 401);
  t.is(await upgrade({ host: `evil.example:${srv.port}`, origin, cookie: `tsstack_ui=${srv.token}` }), 403);
  t.is(await upgrade({ host, origin: 'http://evil.example', cookie: `tsstack_ui=${srv.token}` }), 403);
  t.is(await upgrade({ host, cookie: `tsstack_ui=${srv.token}` }), 403, 'no Origin: not a page of ours');
  t.is(await upgrade({ host, origin, cookie: `tsstack_ui=${srv.token}` }, `/api/shell?container=${f.other.id}`), 404, 'another project');
  // plain HTTP through the real server: 401 without the token
  const plain = await fetch(`http://${host}/api/state`);
  t.is(plain.status, 401);
});

test('auth helpers', (t) => {
  t.true(tokenMatches(TOKEN, TOKEN));
  t.false(tokenMatches(undefined, TOKEN));
  t.false(tokenMatches('', TOKEN));
  t.false(tokenMatches(TOKEN + 'A', TOKEN));
  t.is(cookieToken('a=1; tsstack_ui=xyz; b=2'), 'xyz');
  t.is(cookieToken('tsstack_uix=1'), undefined);
  t.true(hostAllowed('LOCALHOST:80', 80));
  t.false(hostAllowed('localhost.evil.example:80', 80));
  t.false(hostAllowed('[::1]:80', 80));
  t.true(originAllowed(undefined, 80));
  t.false(originAllowed('null', 80));
  t.false(originAllowed('https://127.0.0.1:80', 80));
});

const info = (o: Partial<ContainerInfo> & { id: string; service: string }): ContainerInfo => ({
  name: `p-${o.service}-1`, image: 'i', imageId: 'sha256:i', labels: { [LABEL.project]: 'p', [LABEL.service]: o.service, [LABEL.number]: '1' },
  status: 'running', created: '', restartCount: 0, addresses: {}, ports: [], ...o,
});

test('servicesView: states, depends_on and networks from the labels when there is no model', (t) => {
  const v = servicesView(undefined, [
    info({ id: 'a', service: 'api', health: 'unhealthy', healthOutput: 'curl: refused', labels: { [LABEL.project]: 'p', [LABEL.service]: 'api', 'tsstack.depends-on': 'db,gone' }, addresses: { p_back: '10.0.0.2' } }),
    info({ id: 'b', service: 'db', health: 'starting' }),
    info({ id: 'c', service: 'job', status: 'exited', exitCode: 0 }),
    info({ id: 'd', service: 'bad', status: 'exited', exitCode: 2 }),
    info({ id: 'e', service: 'api', labels: { [LABEL.project]: 'p', [LABEL.service]: 'api', [LABEL.oneoff]: 'True' } }),
  ]);
  t.deepEqual(v.map((s) => [s.name, s.state]), [['api', 'bad'], ['bad', 'bad'], ['db', 'starting'], ['job', 'off']]);
  t.deepEqual(v[0].dependsOn, ['db']);
  t.deepEqual(v[0].networks, ['p_back']);
  t.is(v[0].containers.length, 1, 'one-off containers left out');
  t.is(v[0].containers[0].healthOutput, 'curl: refused');
});

test('servicesView: the stack file\'s limits (deploy.resources.limits first), depends_on and scale from the model', (t) => {
  const model = { services: {
    api: { depends_on: { db: { condition: 'service_started' } }, networks: { back: {} }, scale: 2, cpus: 2, mem_limit: 1024, deploy: { resources: { limits: { memory: 512, pids: 50 } } } },
    db: { depends_on: {}, networks: {} },
  } } as unknown as Parameters<typeof servicesView>[0];
  const v = servicesView(model, [info({ id: 'a', service: 'api' })]);
  t.deepEqual(v.map((s) => [s.name, s.state, s.replicas, s.dependsOn, s.networks, s.limits]), [
    ['api', 'ok', { want: 2, running: 1 }, ['db'], ['back'], { cpus: 2, memory: 512, pids: 50 }],
    ['db', 'bad', { want: 1, running: 0 }, [], [], {}],
  ]);
});

test('CrashTracker: a restart seen between two looks stays red until healthy again', (t) => {
  const ct = new CrashTracker(1000);
  t.deepEqual([...ct.update([info({ id: 'a', service: 'w', health: 'healthy', restartCount: 0 })])], []);
  t.deepEqual([...ct.update([info({ id: 'a', service: 'w', health: 'starting', restartCount: 1 })])], ['a']);
  t.deepEqual([...ct.update([info({ id: 'a', service: 'w', health: 'starting', restartCount: 1 })])], ['a']);
  t.deepEqual([...ct.update([info({ id: 'a', service: 'w', health: 'healthy', restartCount: 1 })])], []);
  // without a healthcheck: running for the settle time
  const now = Date.parse('2026-01-01T00:00:10Z');
  ct.update([info({ id: 'b', service: 'x', restartCount: 0 })], now);
  t.deepEqual([...ct.update([info({ id: 'b', service: 'x', restartCount: 1, startedAt: '2026-01-01T00:00:09.500Z' })], now)], ['b']);
  t.deepEqual([...ct.update([info({ id: 'b', service: 'x', restartCount: 1, startedAt: '2026-01-01T00:00:09.500Z' })], now + 600)], []);
});
