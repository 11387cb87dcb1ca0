// The dashboard's server: the app (app.ts) on node's http on 127.0.0.1 only, and
// the WebSocket of the in-page terminal (ws, checked like every request). It
// lives in the `tsstack ui` (or `up --watch --ui`) process and ends with it.

import { createServer, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { WebSocket, WebSocketServer } from 'ws';
import type { ContainerInfo } from '../engine/api.js';
import { createApp, type UiActions } from './app.js';
import { hostAllowed, newToken, presentedToken, tokenMatches } from './auth.js';
import type { Hub } from './hub.js';

/** A terminal session in a container: bytes both ways. */
export interface ShellSession {
  write(data: Buffer): void;
  onData(f: (data: Buffer) => void): void;
  onExit(f: (code: number | null) => void): void;
  kill(): void;
}

export interface ServerOptions {
  hub: Hub;
  actions: UiActions;
  /** Opens a shell in a running container (absent: the terminal is refused). */
  shell?: (c: ContainerInfo) => ShellSession;
  /** 0 or absent: any free port. */
  port?: number;
  token?: string;
}

export interface UiServer {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const ASSET_DIR = fileURLToPath(new URL('../../../src/ui/assets/', import.meta.url));
const XTERM_DIR = fileURLToPath(new URL('../../../node_modules/@xterm/xterm/', import.meta.url));

export const ASSETS: Record<string, { path: string; type: string }> = {
  'app.js': { path: `${ASSET_DIR}app.js`, type: 'text/javascript; charset=utf-8' },
  'app.css': { path: `${ASSET_DIR}app.css`, type: 'text/css; charset=utf-8' },
  'xterm.js': { path: `${XTERM_DIR}lib/xterm.mjs`, type: 'text/javascript; charset=utf-8' },
  'xterm.css': { path: `${XTERM_DIR}css/xterm.css`, type: 'text/css; charset=utf-8' },
};
export const INDEX = `${ASSET_DIR}index.html`;

/** Refuses an upgrade with a plain HTTP status. */
function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length + 1}\r\n\r\n${text}\n`);
}

export async function startServer(o: ServerOptions): Promise<UiServer> {
  const token = o.token ?? newToken();
  let port = 0;
  const app = createApp(o.hub, o.actions, { token, port: () => port, assets: ASSETS, index: INDEX });
  const server = createServer(app);
  // ws is loaded with the first terminal: a dashboard nobody opens a shell in does not carry it
  let wss: WebSocketServer | undefined;
  const sessions = new Set<WebSocket>();

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      // browsers always send Origin on a WebSocket: it must be ours (cross-site WebSocket hijacking)
      const origin = req.headers.origin;
      const okOrigin = !!origin && /^http:\/\/(127\.0\.0\.1|localhost):(\d+)$/.exec(origin.toLowerCase())?.[2] === String(port);
      if (!hostAllowed(req.headers.host, port) || !okOrigin) return refuse(socket, 403, 'Forbidden');
      if (!tokenMatches(presentedToken(url, { get: (n) => req.headers[n] as string | undefined }), token)) return refuse(socket, 401, 'Unauthorized');
      if (url.pathname !== '/api/shell' || !o.shell) return refuse(socket, 404, 'Not Found');
      const c = await o.hub.ownContainer(url.searchParams.get('container') ?? '');
      if (!c) return refuse(socket, 404, 'Not Found');
      if (c.status !== 'running') return refuse(socket, 409, 'Conflict');
      wss ??= new (await import('ws')).WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
      wss.handleUpgrade(req, socket, head, (ws) => {
        sessions.add(ws);
        const sh = o.shell!(c);
        sh.onData((d) => ws.send(d));
        sh.onExit((code) => ws.close(1000, `exit ${code ?? '?'}`));
        ws.on('message', (d: Buffer) => sh.write(d));
        ws.on('close', () => {
          sessions.delete(ws);
          sh.kill();
        });
      });
    })().catch(() => refuse(socket, 500, 'Internal Server Error'));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    token,
    close: async () => {
      o.hub.close();
      for (const ws of sessions) ws.terminate();
      server.closeAllConnections?.();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
