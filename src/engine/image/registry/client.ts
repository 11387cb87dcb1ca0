// An OCI distribution API client: manifests and blobs (push.ts uploads through `request`), with the
// anonymous/credentialed bearer token flow and basic auth. Plain HTTP only for
// loopback registries or hosts the caller marks insecure (HTTPS is tried first).

import { TsstackError } from '../../../util/errors.js';
import { MT, sha256Digest } from '../oci.js';
import { registryFetch } from '../../rootless/dial.js';
import { basicHeader, isLoopbackHost, loadCredentials, parseWwwAuthenticate, tokenUrl, type Credentials } from './auth.js';

export const MANIFEST_ACCEPT = [MT.ociIndex, MT.ociManifest, MT.dockerManifestList, MT.dockerManifest].join(', ');

export interface RegistryClientOptions {
  insecureRegistries?: string[];
  dockerConfigPath?: string;
  /** Overrides the credentials file lookup. */
  credentials?: Credentials;
  userAgent?: string;
}

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  /** sha256 of the bytes. */
  digest: string;
}

/**
 * Registries (`host[:port]`) the user allows over plain HTTP besides loopback
 * ones, as Docker's `insecure-registries`: TSSTACK_INSECURE_REGISTRIES, comma-
 * or space-separated.
 */
export function envInsecureRegistries(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.TSSTACK_INSECURE_REGISTRIES ?? '').split(/[\s,]+/).filter(Boolean);
}

/** `docker.io` is served by registry-1.docker.io. */
export function apiHost(domain: string): string {
  return domain === 'docker.io' ? 'registry-1.docker.io' : domain;
}


/** What the network errors a registry request meets most mean, in words (the code is kept beside them). */
const NET_ERRORS: Record<string, string> = {
  ENOTFOUND: 'its name does not resolve',
  EAI_AGAIN: 'no DNS answer for its name',
  ECONNREFUSED: 'nothing listens there',
  ETIMEDOUT: 'no answer in time',
  ECONNRESET: 'the connection was cut',
  EHOSTUNREACH: 'no route to it',
  ENETUNREACH: 'no route to its network',
};
export class RegistryClient {
  private base: string | undefined;
  private readonly tokens = new Map<string, string>();
  private readonly creds: Credentials | undefined;
  private basicOk = false;
  /** fetch(), relayed from the host's network namespace in rootless mode (rootless/dial.ts) */
  private readonly fetch = registryFetch();

  constructor(readonly domain: string, private readonly opts: RegistryClientOptions = {}) {
    this.creds = opts.credentials ?? loadCredentials(domain, opts.dockerConfigPath);
  }

  private get plainHttpAllowed(): boolean {
    return isLoopbackHost(this.domain) || [...(this.opts.insecureRegistries ?? []), ...envInsecureRegistries()].includes(this.domain);
  }

  /** Finds the base URL once: https, falling back to http where allowed. */
  private async baseUrl(): Promise<string> {
    if (this.base) return this.base;
    const host = apiHost(this.domain);
    const https = `https://${host}`;
    if (!this.plainHttpAllowed) return (this.base = https);
    try {
      await this.fetch(`${https}/v2/`, { method: 'GET', signal: AbortSignal.timeout(5000) });
      this.base = https;
    } catch {
      this.base = `http://${host}`;
    }
    return this.base;
  }

  /** GET with auth (see `request`). */
  async get(path: string, scope: string, headers: Record<string, string> = {}): Promise<Response> {
    return this.request('GET', path, scope, { headers });
  }

  /**
   * A request with auth: on 401 follows the challenge once (bearer token for
   * `scope`, space-separated scopes allowed, or basic) and sends again, so a
   * body is given as a function that makes it afresh. `pathOrUrl` is a path
   * under the base URL or an absolute URL the registry handed out (an upload
   * location), which must stay on the registry's origin.
   */
  async request(method: string, pathOrUrl: string, scope: string, init: { headers?: Record<string, string>; body?: () => Buffer | ReadableStream<Uint8Array> | NodeJS.ReadableStream } = {}): Promise<Response> {
    const base = await this.baseUrl();
    const url = new URL(pathOrUrl, base).toString();
    if (new URL(url).origin !== new URL(base).origin) {
      throw new TsstackError('IMAGE', `registry ${this.domain} sent an upload location on another origin (${new URL(url).origin})`, { hint: 'tsstack only talks to the registry the image name names' });
    }
    const path = new URL(url).pathname;
    const send = (): Promise<Response> => {
      const h: Record<string, string> = { 'user-agent': this.opts.userAgent ?? 'tsstack', ...(init.headers ?? {}) };
      const token = this.tokens.get(scope);
      if (token) h.authorization = `Bearer ${token}`;
      else if (this.basicOk && this.creds) h.authorization = basicHeader(this.creds) ?? '';
      const body = init.body?.();
      return this.fetch(url, { method, headers: h, redirect: 'follow', ...(body !== undefined ? { body: body as unknown as RequestInit['body'], duplex: 'half' } : {}) } as RequestInit);
    };
    let res = await this.wrap(send, url);
    if (res.status !== 401) return res;
    const challenges = parseWwwAuthenticate(res.headers.get('www-authenticate') ?? '');
    await res.body?.cancel();
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer) {
      this.tokens.set(scope, await this.fetchToken(bearer, scope));
    } else if (challenges.some((c) => c.scheme === 'basic') && this.creds && basicHeader(this.creds)) {
      this.basicOk = true;
    } else {
      throw this.denied(path, scope.includes('push'));
    }
    res = await this.wrap(send, url);
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw this.denied(path, scope.includes('push'));
    }
    return res;
  }

  private async fetchToken(c: ReturnType<typeof parseWwwAuthenticate>[number], scope: string): Promise<string> {
    if (this.creds?.token) return this.creds.token;
    if (!c.params.realm) throw new TsstackError('IMAGE', `registry ${this.domain} asked for a bearer token without a realm`);
    const url = tokenUrl(c, scope.split(' '));
    const h: Record<string, string> = { 'user-agent': this.opts.userAgent ?? 'tsstack' };
    const basic = this.creds ? basicHeader(this.creds) : undefined;
    if (basic) h.authorization = basic;
    const res = await this.wrap(() => this.fetch(url, { headers: h }), url);
    if (!res.ok) {
      await res.body?.cancel();
      throw new TsstackError('IMAGE', `registry ${this.domain}: token request failed (${res.status} from ${new URL(url).host})`, {
        hint: basic ? 'check the credentials in ~/.docker/config.json' : 'the registry may need credentials: add them to ~/.docker/config.json',
      });
    }
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new TsstackError('IMAGE', `registry ${this.domain}: token response has no token`);
    return token;
  }

  private denied(path: string, push = false): TsstackError {
    return new TsstackError('IMAGE', `registry ${this.domain} denied ${push ? 'pushing to' : 'access to'} ${path}`, {
      hint: this.creds ? 'check the credentials for this registry in ~/.docker/config.json' : 'the repository may not exist or may need a login (credentials in ~/.docker/config.json)',
    });
  }

  private async wrap(f: () => Promise<Response>, url: string): Promise<Response> {
    try {
      return await f();
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const said = cause?.code && NET_ERRORS[cause.code] ? `${NET_ERRORS[cause.code]} (${cause.code})` : cause?.code ?? cause?.message ?? (e as Error).message;
      throw new TsstackError('IMAGE', `cannot reach registry ${this.domain} (${new URL(url).origin}): ${said}`, {
        hint: this.plainHttpAllowed ? 'is the registry running?' : 'check the network, or mark the registry insecure if it only speaks plain HTTP',
        cause: e,
      });
    }
  }

  /** GETs a manifest or index by tag or digest. */
  async getManifest(repo: string, reference: string): Promise<FetchedManifest> {
    const path = `/v2/${repo}/manifests/${reference}`;
    const res = await this.get(path, `repository:${repo}:pull`, { accept: MANIFEST_ACCEPT });
    if (res.status === 404) {
      await res.body?.cancel();
      throw new TsstackError('NOT_FOUND', `manifest for ${this.domain}/${repo}:${reference} not found`, { hint: 'check the image name and tag' });
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      throw new TsstackError('IMAGE', `registry ${this.domain}: GET ${path} failed with ${res.status}: ${text.slice(0, 200)}`, {
        ...(res.status === 429 ? { hint: 'the registry rate-limits anonymous pulls: log in (credentials in ~/.docker/config.json) or wait' } : {}),
      });
    }
    const bytes = Buffer.from(await res.arrayBuffer());
    const digest = sha256Digest(bytes);
    let mediaType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
    try {
      const inner = (JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType;
      if (inner) mediaType = inner;
    } catch { /* validated by the caller */ }
    return { bytes, mediaType, digest };
  }

  /** GETs a blob, optionally from byte `offset` (Range); the caller checks the status (200 or 206). */
  async getBlob(repo: string, digest: string, offset = 0): Promise<Response> {
    const path = `/v2/${repo}/blobs/${digest}`;
    const res = await this.get(path, `repository:${repo}:pull`, offset > 0 ? { range: `bytes=${offset}-` } : {});
    if (res.status === 404) {
      await res.body?.cancel();
      throw new TsstackError('IMAGE', `registry ${this.domain}: blob ${digest} of ${repo} not found`);
    }
    if (res.status !== 200 && res.status !== 206) {
      await res.body?.cancel();
      throw new TsstackError('IMAGE', `registry ${this.domain}: GET ${path} failed with ${res.status}`);
    }
    return res;
  }
}
