// Who may talk to the dashboard. It listens on 127.0.0.1 only, yet every local
// user and every web page the user opens can reach that address: requests must
// carry the random token the `ui` command printed (in the URL once, then as an
// HttpOnly SameSite=Strict cookie so the page's own links and streams work),
// name the server by a loopback Host (a DNS-rebinding page names its own host),
// and, when they come from a page, come from this origin. Pure: no IO.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const COOKIE = 'tsstack_ui';

/** 192 random bits, URL-safe. */
export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Constant time in the token's content: both sides are hashed first, so lengths never differ. */
export function tokenMatches(given: string | undefined, token: string): boolean {
  if (!given) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

/** The dashboard cookie's value from a Cookie header. */
export function cookieToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === COOKIE) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** The token a request presents: `?token=`, then `Authorization: Bearer`, then the cookie. */
export function presentedToken(url: URL, headers: { get(name: string): string | null | undefined }): string | undefined {
  const q = url.searchParams.get('token');
  if (q) return q;
  const auth = headers.get('authorization');
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  return cookieToken(headers.get('cookie') ?? undefined);
}

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost']);

/** Host must be 127.0.0.1 or localhost with our port: a rebound DNS name is refused. */
export function hostAllowed(host: string | undefined | null, port: number): boolean {
  if (!host) return false;
  const m = /^([^:]+):(\d+)$/.exec(host.trim().toLowerCase());
  return !!m && LOOPBACK_NAMES.has(m[1]) && Number(m[2]) === port;
}

/** A request from a page (Origin set) must come from the dashboard's own origin; none (curl, same-origin GET) is fine. */
export function originAllowed(origin: string | undefined | null, port: number): boolean {
  if (origin === undefined || origin === null) return true;
  const m = /^http:\/\/([^:/]+):(\d+)$/.exec(origin.trim().toLowerCase());
  return !!m && LOOPBACK_NAMES.has(m[1]) && Number(m[2]) === port;
}

/** The Set-Cookie value that keeps the token for this origin's later requests. */
export function tokenCookie(token: string): string {
  return `${COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict`;
}
