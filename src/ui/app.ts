// The dashboard's HTTP API on node's own http: pages, assets, the event
// streams, logs, and the actions. Every request is checked (auth.ts) before any
// handler runs: a Host other than the loopback names gets 403, a request
// without the token 401, a page of another origin 403. Nothing here touches the
// host: engine calls go through the hub and the actions it is given, so tests
// drive it with a fake engine.
//
// Plain node:http rather than a framework: a fetch-style one (hono) makes Node
// load its WHATWG Request/Response (undici), ~11 MiB more RSS in a process whose
// budget is 50 MiB (bench/ui.sh), for a dozen fixed routes.

import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
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

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** A page that reads slower than events come is cut off past this much unsent output (it reconnects and gets a snapshot). */
const MAX_BACKLOG = 4 << 20;
const MAX_BODY = 64 << 10;

/** The colour index of a service in merged logs: its place among the sorted names, as the CLI colours them. */
export function colourIndex(services: string[], service: string): number {
  return Math.max(0, [...services].sort().indexOf(service));
}

function send(res: ServerResponse, status: number, body: string, type: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}
const text = (res: ServerResponse, status: number, body: string) => send(res, status, body, 'text/plain; charset=UTF-8');
const json = (res: ServerResponse, status: number, value: unknown) => send(res, status, JSON.stringify(value), 'application/json');

/** A file sent as it is read (nothing kept in memory); 404 when it cannot be opened. */
function sendFile(res: ServerResponse, path: string, type: string): void {
  const f = createReadStream(path);
  f.once('open', () => {
    res.writeHead(200, { 'content-type': type });
    f.pipe(res);
  });
  f.once('error', () => {
    if (!res.headersSent) text(res, 404, 'not found\n');
    else res.destroy();
  });
  res.once('close', () => f.destroy());
}

function decoded(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** The request's JSON body (at most 64 KiB), or undefined when it is not JSON. */
function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_BODY) {
        resolve(undefined);
        req.destroy();
      } else chunks.push(d);
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null'));
      } catch {
        resolve(undefined);
      }
    });
    req.on('error', () => resolve(undefined));
  });
}

/** An event stream: its writer, and a promise that settles when the page goes (or is cut off). */
function eventStream(res: ServerResponse): { write(type: string, data: unknown): void; closed: Promise<void> } {
  res.writeHead(200, { 'content-type': 'text/event-stream', connection: 'keep-alive' });
  res.flushHeaders();
  const closed = new Promise<void>((r) => res.once('close', () => r()));
  return {
    write: (type, data) => {
      if (res.destroyed) return;
      if (res.writableLength > MAX_BACKLOG) return void res.destroy();
      res.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    closed,
  };
}

export function createApp(hub: Hub, actions: UiActions, o: AppOptions): RequestHandler {
  const own = (id: string): Promise<ContainerInfo | undefined> => hub.ownContainer(id);
  const notOurs = (res: ServerResponse, id: string) => json(res, 404, { error: `no container ${id} in project ${hub.project}` });

  const events = async (res: ServerResponse) => {
    const s = eventStream(res);
    let gone = false;
    void s.closed.then(() => { gone = true; });
    const off = await hub.subscribe((e) => s.write(e.type, e.data));
    if (gone) off();
    else void s.closed.then(off);
  };

  // Merged logs of the named services (all when none), each line with its service and colour, following live.
  const logs = async (url: URL, res: ServerResponse) => {
    const wanted = url.searchParams.getAll('service');
    const tail = Math.min(Math.max(Number(url.searchParams.get('tail') ?? 200) || 0, 0), 5000);
    const s = eventStream(res);
    const abort = new AbortController();
    void s.closed.then(() => abort.abort());
    const all = (await hub.engine.containers.list({ [LABEL.project]: hub.project })).filter((x) => x.labels[LABEL.oneoff] !== 'True');
    const services = [...new Set(all.map((x) => x.labels[LABEL.service]))];
    const chosen = all.filter((x) => !wanted.length || wanted.includes(x.labels[LABEL.service]));
    await Promise.all(chosen.map(async (ctr) => {
      const service = ctr.labels[LABEL.service];
      const line = (data: object) => s.write('line', { service, container: ctr.name, colour: colourIndex(services, service), ...data });
      try {
        for await (const l of hub.engine.containers.logs(ctr.id, { follow: true, tail, signal: abort.signal })) {
          line({ t: l.time, stream: l.stream, line: l.log });
        }
      } catch (e) {
        if (!abort.signal.aborted) line({ t: new Date().toISOString(), stream: 'stderr', line: `(log unreadable: ${e instanceof Error ? e.message : String(e)})` });
      }
    }));
  };

  const containerAction = async (req: IncomingMessage, res: ServerResponse, id: string, verb: 'restart' | 'stop' | 'start' | 'exec') => {
    const ctr = await own(id);
    if (!ctr) return notOurs(res, id);
    if (verb === 'exec') {
      const body = await readJson(req) as { command?: unknown } | undefined;
      const command = typeof body?.command === 'string' ? body.command.trim() : '';
      if (!command || command.includes('\n')) return json(res, 400, { error: 'exec takes one line: {"command": "…"}' });
      if (ctr.status !== 'running') return json(res, 409, { error: `container ${ctr.name} is not running (${ctr.status})` });
      return json(res, 200, await actions.exec(ctr, command));
    }
    try {
      await actions[verb](ctr);
    } catch (e) {
      return json(res, 409, { error: e instanceof Error ? e.message : String(e) });
    }
    void hub.refresh(true);
    return json(res, 200, { ok: true });
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    const h = (n: string) => { const v = req.headers[n]; return Array.isArray(v) ? v[0] : v; };
    if (!hostAllowed(h('host'), o.port())) return text(res, 403, 'refused: the dashboard answers to 127.0.0.1 and localhost only\n');
    if (!originAllowed(h('origin'), o.port())) return text(res, 403, 'refused: another origin\n');
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://127.0.0.1');
    } catch {
      return text(res, 400, 'bad request\n');
    }
    if (!tokenMatches(presentedToken(url, { get: h }), o.token)) return text(res, 401, 'unauthorized: open the URL `tsstack ui` printed (it carries the token)\n');
    const read = req.method === 'GET' || req.method === 'HEAD';
    // the token in the URL is traded for the cookie once, then dropped from the address bar
    if (req.method === 'GET' && url.searchParams.has('token') && url.pathname === '/') {
      res.writeHead(303, { location: '/', 'set-cookie': tokenCookie(o.token), 'content-length': 0 });
      return void res.end();
    }
    if (!read && !(h('content-type') ?? '').startsWith('application/json')) return text(res, 415, 'send JSON\n');

    const path = url.pathname;
    if (read) {
      if (path === '/') return sendFile(res, o.index, 'text/html; charset=UTF-8');
      if (path.startsWith('/assets/')) {
        const name = decoded(path.slice('/assets/'.length));
        if (name === undefined || !Object.hasOwn(o.assets, name)) return text(res, 404, 'not found\n');
        return sendFile(res, o.assets[name].path, o.assets[name].type);
      }
      if (path === '/api/state') return json(res, 200, await hub.snapshot());
      if (path === '/api/plan') return json(res, 200, await hub.replan());
      if (path === '/api/events') return events(res);
      if (path === '/api/logs') return logs(url, res);
    } else if (req.method === 'POST') {
      if (path === '/api/apply') {
        await actions.apply();
        return json(res, 200, { history: hub.history.at(-1) ?? null });
      }
      const m = /^\/api\/containers\/([^/]+)\/(restart|stop|start|exec)$/.exec(path);
      const id = m ? decoded(m[1]) : undefined;
      if (m && id !== undefined) return containerAction(req, res, id, m[2] as 'restart' | 'stop' | 'start' | 'exec');
    }
    return text(res, 404, 'not found\n');
  };

  return (req, res) => {
    route(req, res).catch((e) => {
      if (!res.headersSent) text(res, 500, `${e instanceof Error ? e.message : String(e)}\n`);
      else res.destroy();
    });
  };
}
