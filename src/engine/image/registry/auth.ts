// Registry authentication pieces, pure where possible: WWW-Authenticate
// challenge parsing, credentials from the Docker client config, token URLs.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `Bearer realm="…",service="…",scope="…"` (several challenges allowed). */
export function parseWwwAuthenticate(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const n = header.length;
  const skip = (chars: string): void => { while (i < n && chars.includes(header[i]!)) i++; };
  const token = (): string => { const st = i; while (i < n && /[A-Za-z0-9_.~+/-]/.test(header[i]!)) i++; return header.slice(st, i); };
  while (i < n) {
    skip(' \t,');
    const scheme = token();
    if (!scheme) break;
    const params: Record<string, string> = {};
    out.push({ scheme: scheme.toLowerCase(), params });
    for (;;) {
      skip(' \t');
      const back = i;
      const key = token();
      skip(' \t');
      if (!key || header[i] !== '=') { i = back; break; }
      i++;
      skip(' \t');
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') { if (header[i] === '\\') i++; value += header[i] ?? ''; i++; }
        i++;
      } else {
        const st = i;
        while (i < n && header[i] !== ',' && header[i] !== ' ') i++;
        value = header.slice(st, i);
      }
      params[key.toLowerCase()] = value;
      skip(' \t');
      if (header[i] === ',') i++; else break;
    }
  }
  return out;
}

/** The token endpoint URL for a bearer challenge and the scopes we need. */
export function tokenUrl(c: Challenge, scopes: string[]): string {
  const u = new URL(c.params.realm ?? '');
  if (c.params.service) u.searchParams.set('service', c.params.service);
  const wanted = scopes.length ? scopes : (c.params.scope ? c.params.scope.split(' ') : []);
  for (const s of wanted) u.searchParams.append('scope', s);
  return u.toString();
}

export interface Credentials {
  username?: string;
  password?: string;
  /** A bearer token to send as is (`registrytoken`). */
  token?: string;
}

/** Keys under which the Docker client may have stored a registry's credentials. */
export function credentialKeys(domain: string): string[] {
  if (domain === 'docker.io') return ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io', 'https://registry-1.docker.io'];
  return [domain, `https://${domain}`, `http://${domain}`, `https://${domain}/v1/`, `https://${domain}/v2/`];
}

/** Credentials for `domain` from a parsed Docker config (`auths.<host>.auth` = base64 user:password). */
export function credentialsFrom(config: unknown, domain: string): Credentials | undefined {
  const auths = (config as { auths?: Record<string, { auth?: string; username?: string; password?: string; registrytoken?: string }> })?.auths;
  if (!auths) return undefined;
  for (const k of credentialKeys(domain)) {
    const a = auths[k];
    if (!a) continue;
    if (a.registrytoken) return { token: a.registrytoken };
    if (a.auth) {
      const s = Buffer.from(a.auth, 'base64').toString('utf8');
      const i = s.indexOf(':');
      if (i > 0) return { username: s.slice(0, i), password: s.slice(i + 1) };
    }
    if (a.username !== undefined && a.password !== undefined) return { username: a.username, password: a.password };
  }
  return undefined;
}

export function defaultDockerConfigPath(): string {
  return join(process.env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
}

/** The credential helper (`docker-credential-<name>`) the config names for `domain`, if any. */
export function credentialHelperFor(config: unknown, domain: string): string | undefined {
  const c = config as { credHelpers?: Record<string, string>; credsStore?: string };
  for (const k of credentialKeys(domain)) if (c?.credHelpers?.[k]) return c.credHelpers[k];
  return c?.credsStore || undefined;
}

/**
 * Reads credentials for `domain`: `auths` entries first, then a credential
 * helper (`docker-credential-<name> get`, server URL on stdin). A missing or
 * unreadable config, or a helper that fails, means none.
 */
export function loadCredentials(domain: string, path = defaultDockerConfigPath()): Credentials | undefined {
  let config: unknown;
  try { config = JSON.parse(readFileSync(path, 'utf8')); } catch { return undefined; }
  const direct = credentialsFrom(config, domain);
  if (direct) return direct;
  const helper = credentialHelperFor(config, domain);
  if (!helper || !/^[A-Za-z0-9._-]+$/.test(helper)) return undefined;
  try {
    const server = domain === 'docker.io' ? 'https://index.docker.io/v1/' : domain;
    const out = execFileSync(`docker-credential-${helper}`, ['get'], { input: server, timeout: 10_000, stdio: ['pipe', 'pipe', 'ignore'] });
    const r = JSON.parse(out.toString('utf8')) as { Username?: string; Secret?: string };
    if (!r.Secret) return undefined;
    return r.Username === '<token>' ? { token: r.Secret } : { username: r.Username ?? '', password: r.Secret };
  } catch {
    return undefined;
  }
}

export function basicHeader(c: Credentials): string | undefined {
  if (c.username === undefined) return undefined;
  return 'Basic ' + Buffer.from(`${c.username}:${c.password ?? ''}`).toString('base64');
}

/** True for hosts on the loopback interface (plain HTTP allowed without asking). */
export function isLoopbackHost(domain: string): boolean {
  const host = domain.startsWith('[') ? domain.slice(1, domain.indexOf(']')) : domain.replace(/:\d+$/, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
