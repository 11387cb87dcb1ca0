// Image references ("redis", "localhost:5000/app:dev", "repo@sha256:…"),
// parsed and normalized as Docker does: the domain defaults to docker.io, a
// one-component Docker Hub path gets `library/`, and `latest` is the tag when
// neither tag nor digest is given. Pure.

import { TsstackError } from '../../util/errors.js';

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
export const DEFAULT_TAG = 'latest';

export interface ImageReference {
  /** Registry host[:port], e.g. `docker.io`, `localhost:5000`. */
  domain: string;
  /** Repository path inside the registry, e.g. `library/redis`. */
  path: string;
  tag?: string;
  /** `algorithm:hex`, e.g. `sha256:…`. */
  digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_LABEL = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(`^(?:${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const ID_LIKE = /^[a-f0-9]{64}$/;
const MAX_NAME = 255;

function invalid(ref: string, why: string): TsstackError {
  return new TsstackError('USAGE', `invalid image reference "${ref}": ${why}`, {
    hint: 'use name[:tag][@sha256:digest], e.g. "redis:7", "localhost:5000/app:dev"',
  });
}

/** Parses and normalizes a reference; throws a USAGE TsstackError when malformed. */
export function parseReference(ref: string): ImageReference {
  if (ref === '') throw invalid(ref, 'empty');
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalid(ref, `bad digest "${digest}"`);
    const [alg, hex] = digest.split(':') as [string, string];
    if (alg === 'sha256' && !/^[a-f0-9]{64}$/.test(hex)) throw invalid(ref, 'sha256 digest must be 64 lowercase hex characters');
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(ref, `bad tag "${tag}"`);
  }
  if (rest === '') throw invalid(ref, 'missing repository name');
  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first.toLowerCase() !== first) {
      domain = first;
      path = rest.slice(slash + 1);
    }
  }
  if (!DOMAIN.test(domain)) throw invalid(ref, `bad registry host "${domain}"`);
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (path.toLowerCase() !== path) throw invalid(ref, 'repository name must be lowercase');
  for (const c of path.split('/')) {
    if (!COMPONENT.test(c)) throw invalid(ref, `bad path component "${c}"`);
  }
  if (ID_LIKE.test(path) && domain === DEFAULT_DOMAIN) throw invalid(ref, 'a 64-character hex string is an image id, not a name');
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = `library/${path}`;
  if (domain.length + 1 + path.length > MAX_NAME) throw invalid(ref, `repository name longer than ${MAX_NAME} characters`);
  if (tag === undefined && digest === undefined) tag = DEFAULT_TAG;
  const out: ImageReference = { domain, path };
  if (tag !== undefined) out.tag = tag;
  if (digest !== undefined) out.digest = digest;
  return out;
}

/** `docker.io/library/redis` */
export function repositoryOf(r: ImageReference): string {
  return `${r.domain}/${r.path}`;
}

/** Fully qualified: `docker.io/library/redis:7`, `localhost:5000/app@sha256:…`. */
export function formatReference(r: ImageReference): string {
  return repositoryOf(r) + (r.tag !== undefined ? `:${r.tag}` : '') + (r.digest !== undefined ? `@${r.digest}` : '');
}

/** The short form Docker shows: `redis:7`, `someone/app:1`, `localhost:5000/app:dev`. */
export function familiarName(r: ImageReference): string {
  let repo = repositoryOf(r);
  if (r.domain === DEFAULT_DOMAIN) repo = r.path.startsWith('library/') ? r.path.slice('library/'.length) : r.path;
  return repo + (r.tag !== undefined ? `:${r.tag}` : '') + (r.digest !== undefined ? `@${r.digest}` : '');
}

/** Normalizes a name string in one step (`redis` → `docker.io/library/redis:latest`). */
export function normalizeName(ref: string): string {
  return formatReference(parseReference(ref));
}

/** True for strings that look like an image id or an id prefix (`sha256:ab12…`, `ab12cd…`). */
export function looksLikeImageId(s: string): boolean {
  return /^(?:sha256:)?[a-f0-9]{6,64}$/.test(s);
}
