// The dashboard's HTTP API (hono): pages, assets, the event stream, logs, and
// the actions. Every request is checked (auth.ts) before any handler runs:
// a Host other than the loopback names gets 403, a request without the token
// 401, a page of another origin 403. Nothing here touches the host: engine
// calls go through the hub and the actions it is given, so tests drive it
// with a fake engine and app.request().

import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { readFile } from 'node:fs/promises';
import type { ContainerInfo } from '../engine/api.js';
import { LABEL } from '../engine/api.js';
import { hostAllowed, originAllowed, presentedToken, tokenCookie, tokenMatches } from './auth.js';
import type { Hub } from './hub.js';

/** Container actions beyond the engine's own calls (the CLI gives them; tests fake them). */
export interface UiActions {
  restart(c: ContainerInfo): Promise<void>;
  stop(c: ContainerInfo): Promise<void>;
  start(c: ContainerInfo): Promise<void>;
  /** A one-line command run with `sh -c` in the container; its exit code and merged output. */
  exec(c: ContainerInfo, command: string): Promise<{ code: number; output: string }>;
  /** Reconcile the stack as `up -d` would, reporting to the hub's history. */
  apply(): Promise<void>;
}

export interface AppOptions {
  token: string;
  /** The port the server listens on (known once it listens): Host and Origin must name it. */
  port: () => number;
  /** Files served under /assets/NAME: a fixed list, so no path from a request reaches the file system. */
  assets: Record<string, { path: string; type: string }>;
  index: string;
}

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** The colour index of a service in merged logs: its place among the sorted names, as the CLI colours them. */
export function colourIndex(services: string[], service: string): number {
  return Math.max(0, [...services].sort().indexOf(service));
}

export function createApp(hub: Hub, actions: UiActions, o: AppOptions): Hono {
  const app = new Hono();

  app.use('*', async (c, next) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.header(k, v);
    if (!hostAllowed(c.req.header('host'), o.port())) return c.text('refused: the dashboard answers to 127.0.0.1 and localhost only\n', 403);
    if (!originAllowed(c.req.header('origin'), o.port())) return c.text('refused: another origin\n', 403);
    const url = new URL(c.req.url);
    const given = presentedToken(url, { get: (n) => c.req.header(n) });
    if (!tokenMatches(given, o.token)) return c.text('unauthorized: open the URL `tsstack ui` printed (it carries the token)\n', 401);
    // the token in the URL is traded for the cookie once, then dropped from the address bar
    if (c.req.method === 'GET' && url.searchParams.has('token') && url.pathname === '/') {
      c.header('set-cookie', tokenCookie(o.token));
      return c.redirect('/', 303);
    }
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD' && !(c.req.header('content-type') ?? '').startsWith('application/json')) {
      return c.text('send JSON\n', 415);
    }
    await next();
  });

  app.get('/', async (c) => c.html(await readFile(o.index, 'utf8')));
  app.get('/assets/:name', async (c) => {
    const a = o.assets[c.req.param('name')];
    if (!a || !Object.hasOwn(o.assets, c.req.param('name'))) return c.text('not found\n', 404);
    return c.body(await readFile(a.path), 200, { 'content-type': a.type });
  });

  app.get('/api/state', async (c) => c.json(await hub.snapshot()));
  app.get('/api/plan', async (c) => c.json(await hub.replan()));

  app.get('/api/events', (c) => streamSSE(c, async (stream) => {
    let wake: () => void = () => {};
    const closed = new Promise<void>((r) => { wake = r; });
    stream.onAbort(() => wake());
    const queue: string[] = [];
    let writing = false;
    const flush = async () => {
      if (writing) return;
      writing = true;
      while (queue.length && !stream.aborted) await stream.write(queue.shift()!).catch(() => wake());
      writing = false;
    };
    const off = await hub.subscribe((e) => {
      queue.push(`event: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`);
      void flush();
    });
    try {
      await closed;
    } finally {
      off();
    }
  }));

  app.post('/api/apply', async (c) => {
    await actions.apply();
    return c.json({ history: hub.history.at(-1) ?? null });
  });

  const own = async (c: Context): Promise<ContainerInfo | undefined> => hub.ownContainer(c.req.param('id') ?? '');
  for (const verb of ['restart', 'stop', 'start'] as const) {
    app.post(`/api/containers/:id/${verb}`, async (c) => {
      const ctr = await own(c);
      if (!ctr) return c.json({ error: `no container ${c.req.param('id')} in project ${hub.project}` }, 404);
      try {
        await actions[verb](ctr);
      } catch (e) {
        return c.json({ error: e instanceof Error ? e.message : String(e) }, 409);
      }
      void hub.refresh(true);
      return c.json({ ok: true });
    });
  }
  app.post('/api/containers/:id/exec', async (c) => {
    const ctr = await own(c);
    if (!ctr) return c.json({ error: `no container ${c.req.param('id')} in project ${hub.project}` }, 404);
    const body = await c.req.json().catch(() => undefined) as { command?: unknown } | undefined;
    const command = typeof body?.command === 'string' ? body.command.trim() : '';
    if (!command || command.includes('\n')) return c.json({ error: 'exec takes one line: {"command": "…"}' }, 400);
    if (ctr.status !== 'running') return c.json({ error: `container ${ctr.name} is not running (${ctr.status})` }, 409);
    return c.json(await actions.exec(ctr, command));
  });

  // Merged logs of the named services (all when none), each line with its service and colour, following live.
  app.get('/api/logs', (c) => {
    const wanted = c.req.queries('service') ?? [];
    const tail = Math.min(Math.max(Number(c.req.query('tail') ?? 200) || 0, 0), 5000);
    return streamSSE(c, async (stream) => {
      const abort = new AbortController();
      stream.onAbort(() => abort.abort());
      const all = (await hub.engine.containers.list({ [LABEL.project]: hub.project })).filter((x) => x.labels[LABEL.oneoff] !== 'True');
      const services = [...new Set(all.map((x) => x.labels[LABEL.service]))];
      const chosen = all.filter((x) => !wanted.length || wanted.includes(x.labels[LABEL.service]));
      let chain = Promise.resolve();
      const send = (data: unknown) => {
        chain = chain.then(() => stream.writeSSE({ event: 'line', data: JSON.stringify(data) })).catch(() => abort.abort());
      };
      await Promise.all(chosen.map(async (ctr) => {
        const service = ctr.labels[LABEL.service];
        try {
          for await (const l of hub.engine.containers.logs(ctr.id, { follow: true, tail, signal: abort.signal })) {
            send({ t: l.time, service, container: ctr.name, stream: l.stream, line: l.log, colour: colourIndex(services, service) });
          }
        } catch (e) {
          if (!abort.signal.aborted) send({ t: new Date().toISOString(), service, container: ctr.name, stream: 'stderr', line: `(log unreadable: ${e instanceof Error ? e.message : String(e)})`, colour: colourIndex(services, service) });
        }
      }));
      await chain;
      if (!abort.signal.aborted) await new Promise<void>((r) => abort.signal.addEventListener('abort', () => r(), { once: true }));
    });
  });

  return app;
}
