// Registry traffic in rootless mode. The CLI inside the rootless namespace runs in
// the holder's network namespace, whose only way out is pasta: a registry on the
// host's loopback (a local one, a mirror) is never reachable there, and where pasta
// cannot run (no /dev/net/tun for users, no routable interface) nothing is. Images
// are the user's to fetch as the user would (Podman pulls from the host's network
// namespace too), so the CLI outside, which waits for the one inside anyway, relays
// the registry client's connections: it listens on a socket in the private run
// root, reads `HOST PORT` and connects from the host's namespace. Containers never
// see the run root: the relay is the CLI's, not theirs.

import { Agent } from 'node:http';
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { chmodSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { caWithExtra, deferredCaFile } from '../../util/extra-ca.js';
import { fetchTrusting, routedFetch, type Route } from '../../util/http-fetch.js';

/** Set for the copy of the CLI inside the namespace: the relay's socket. */
export const DIAL_ENV = 'TSSTACK_ROOTLESS_DIAL';

/** A host name or an IP address (v6 in brackets or bare), and a port. Pure. */
export function parseDialLine(line: string): { host: string; port: number } | undefined {
  const m = /^([A-Za-z0-9.\-:[\]]{1,255}) (\d{1,5})$/.exec(line);
  const port = Number(m?.[2]);
  if (!m || port < 1 || port > 65535) return undefined;
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}

/** Removes the relay sockets (`dial-<pid>.sock`) in `dir` of commands that have ended without closing theirs (killed). */
function sweepStale(dir: string): void {
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch { /* none */ }
  for (const n of names) {
    const pid = Number(/^dial-(\d+)\.sock$/.exec(n)?.[1]);
    if (!pid || existsSync(`/proc/${pid}`)) continue;
    rmSync(join(dir, n), { force: true });
  }
}

/** The relay, on `path` (in the user's private run root), until close(). */
export async function startDialRelay(path: string): Promise<{ path: string; close(): Promise<void> }> {
  sweepStale(dirname(path));
  rmSync(path, { force: true });
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => client.destroy());
    let head = '';
    const onData = (d: Buffer) => {
      head += d.toString('latin1');
      const nl = head.indexOf('\n');
      if (nl < 0) {
        if (head.length > 300) client.destroy();
        return;
      }
      client.off('data', onData);
      client.pause();
      const rest = Buffer.from(head.slice(nl + 1), 'latin1');
      const to = parseDialLine(head.slice(0, nl));
      if (!to) return void client.end('ERR bad request\n');
      const up = netConnect(to);
      open.add(up);
      up.on('close', () => open.delete(up));
      up.once('error', (e: NodeJS.ErrnoException) => {
        if (client.writable) client.end(`ERR ${e.code ?? e.message}\n`);
        client.destroy();
      });
      up.once('connect', () => {
        client.write('OK\n');
        if (rest.length) up.write(rest);
        client.pipe(up).pipe(client);
        client.resume();
        up.on('error', () => client.destroy());
        client.on('error', () => up.destroy());
      });
    };
    client.on('data', onData);
  });
  await new Promise<void>((res, rej) => server.once('error', rej).listen(path, () => res()));
  chmodSync(path, 0o600);
  server.unref();
  return {
    path,
    close: () => new Promise<void>((res) => {
      for (const s of open) s.destroy();
      server.close(() => res());
      rmSync(path, { force: true });
    }),
  };
}

/** A connection to host:port through the relay at `path`, once the relay has it open. */
export function dial(path: string, host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect(path);
    let got = '';
    const fail = (why: string) => {
      s.destroy();
      const e = new Error(`connect ${why} ${host}:${port}`) as NodeJS.ErrnoException;
      e.code = why;
      reject(e);
    };
    s.once('error', (e: NodeJS.ErrnoException) => fail(e.code ?? 'ECONNREFUSED'));
    s.once('connect', () => s.write(`${host.includes(':') ? `[${host}]` : host} ${port}\n`));
    const onData = (d: Buffer) => {
      got += d.toString('latin1');
      const nl = got.indexOf('\n');
      if (nl < 0) return;
      s.off('data', onData);
      s.removeAllListeners('error');
      s.pause();
      const line = got.slice(0, nl);
      if (line !== 'OK') return fail(line.replace(/^ERR /, '') || 'ECONNREFUSED');
      const rest = got.slice(nl + 1);
      if (rest) s.unshift(Buffer.from(rest, 'latin1'));
      resolve(s);
    };
    s.on('data', onData);
  });
}

/** Each request on a connection of its own through the relay at `path`; TLS (for https) over it, trusting `ca` when given. */
function relayRoute(path: string, ca?: string[]): Route {
  return async (url, host, port) => {
    const raw = await dial(path, host, port);
    const sock: Socket = url.protocol === 'https:'
      ? await new Promise<Socket>((res, rej) => {
        const t = tlsConnect({ socket: raw, servername: /^[\d.]+$|:/.test(host) ? undefined : host, ALPNProtocols: ['http/1.1'], ...(ca ? { ca } : {}) });
        t.once('secureConnect', () => res(t));
        t.once('error', (e) => { raw.destroy(); rej(e); });
      })
      : raw;
    // an agent of its own whose one connection is the relayed socket (no lookup, no pooling)
    const agent = new Agent();
    agent.createConnection = () => sock.resume(); // dial() left it paused: the client's reader takes over
    return { agent, tls: false, done: () => sock.destroy() };
  };
}

/** fetch() through the relay at `path` (redirects followed as fetch does). */
export function relayedFetch(path: string, ca?: string[]): typeof fetch {
  return routedFetch(relayRoute(path, ca));
}

/**
 * The fetch the registry client uses: through the relay inside the rootless namespace, else the global
 * one; with the extra CA certificates the launcher kept from Node's start (util/extra-ca.ts), if any.
 */
export function registryFetch(env: NodeJS.ProcessEnv = process.env, extra = deferredCaFile()): typeof fetch {
  const path = env[DIAL_ENV];
  const ca = extra ? caWithExtra(extra) : undefined;
  return path ? relayedFetch(path, ca) : ca ? fetchTrusting(ca) : fetch;
}
