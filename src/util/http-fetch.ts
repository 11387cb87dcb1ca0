// fetch() over node:http and node:https, for the connections global fetch cannot make: through the
// rootless relay (rootless/dial.ts), or with CA certificates of the caller's (util/extra-ca.ts; Node
// 20's fetch takes no `ca`). What the registry client uses of fetch: method, headers, a body
// (string, Buffer or stream), a signal, redirects followed; a Response with its body as a stream.

import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';

/** How a request reaches its origin: the agent, and whether the request itself speaks TLS (else the agent's socket does, or none). */
export type Route = (url: URL, host: string, port: number) => Promise<{ agent: HttpAgent; tls: boolean; done?: () => void }>;

type HeaderInit = ConstructorParameters<typeof Headers>[0];
type Body = Buffer | ReadableStream<Uint8Array> | NodeJS.ReadableStream | string | undefined;

/** One HTTP exchange by `route`, as a fetch Response. */
async function once(route: Route, url: URL, init: RequestInit & { body?: Body }): Promise<Response> {
  const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const via = await route(url, host, port);
  const headers = new Headers(init.headers as HeaderInit);
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = (via.tls ? httpsRequest : httpRequest)({
      method: init.method ?? 'GET', hostname: host, port, path: `${url.pathname}${url.search}`, agent: via.agent,
      headers: Object.fromEntries(headers.entries()), signal: init.signal ?? undefined,
    }, resolve);
    req.once('error', (e) => { via.done?.(); reject(e); });
    const b = init.body;
    if (b === undefined || b === null) req.end();
    else if (typeof b === 'string' || Buffer.isBuffer(b)) req.end(b);
    else {
      const src = typeof (b as ReadableStream).getReader === 'function' ? Readable.fromWeb(b as import('node:stream/web').ReadableStream) : (b as NodeJS.ReadableStream as Readable);
      src.once('error', (e) => req.destroy(e));
      src.pipe(req);
    }
  });
  const h = new Headers();
  for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
  const status = res.statusCode ?? 502;
  const empty = status === 204 || status === 304 || init.method === 'HEAD';
  if (empty) res.resume();
  if (via.done) {
    res.once('end', via.done);
    res.once('close', via.done);
  }
  return new Response(empty ? null : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>), { status, statusText: res.statusMessage, headers: h });
}

/**
 * fetch() by `route`: redirects followed as fetch does (a 303, or a 301/302 of a POST, goes on as a
 * GET without the body), at most 20; credentials are not carried to another origin.
 */
export function routedFetch(route: Route): typeof fetch {
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    let url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    let opts = { ...init } as RequestInit & { body?: Body };
    for (let hop = 0; ; hop++) {
      const res = await once(route, url, opts);
      const loc = res.headers.get('location');
      if (![301, 302, 303, 307, 308].includes(res.status) || !loc || opts.redirect === 'manual') return res;
      await res.body?.cancel();
      if (hop === 20) throw new TypeError(`fetch failed: too many redirects from ${url.host}`);
      const next = new URL(loc, url);
      const method = (opts.method ?? 'GET').toUpperCase();
      if (res.status === 303 ? method !== 'HEAD' : (res.status === 301 || res.status === 302) && method === 'POST') opts = { ...opts, method: 'GET', body: undefined };
      // credentials stay with the origin that was given them (as fetch drops Authorization on a cross-origin redirect)
      if (next.origin !== url.origin) {
        const h = new Headers(opts.headers as HeaderInit);
        h.delete('authorization');
        opts = { ...opts, headers: Object.fromEntries(h.entries()) };
      }
      url = next;
    }
  }) as typeof fetch;
}

/** fetch() straight to the origin, trusting the certificates `ca` for https (pooled connections, as fetch's). */
export function fetchTrusting(ca: string[]): typeof fetch {
  const https = new HttpsAgent({ keepAlive: true, ca });
  const http = new HttpAgent({ keepAlive: true });
  return routedFetch(async (url) => (url.protocol === 'https:' ? { agent: https, tls: true } : { agent: http, tls: false }));
}
