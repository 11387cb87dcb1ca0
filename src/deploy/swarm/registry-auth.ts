// `deploy --to swarm --with-registry-auth`: the credentials this user's Docker
// config holds for each service's registry travel with the service's create or
// update (the Engine API's X-Registry-Auth header), so the Swarm's nodes can pull
// an image from a registry that wants a login. The manager keeps them with the
// service for its tasks. Without the flag nothing is sent: nodes pull with what
// they have themselves (their own `docker login`), as `docker stack deploy` does.
//
// Pure apart from the credential reader, which the caller passes (tests give a fake).

import { parseReference } from '../../engine/image/reference.js';
import type { Credentials } from '../../engine/image/registry/auth.js';

/** The Engine API's AuthConfig, the fields a Swarm manager uses to pull. */
export interface SwarmAuthConfig {
  username?: string;
  password?: string;
  /** A bearer token sent to the registry as is (the Docker config's `registrytoken`). */
  registrytoken?: string;
  serveraddress: string;
}

export interface ServiceAuths {
  /** Service key → what to send with its create/update. */
  byService: Map<string, SwarmAuthConfig>;
  /** Registries some service pulls from that the config has no credentials for (its nodes pull anonymously). */
  without: string[];
}

/** Docker keeps Docker Hub's credentials under its index address, not under the domain images name. */
function serverAddress(domain: string): string {
  return domain === 'docker.io' ? 'https://index.docker.io/v1/' : domain;
}

export function authConfig(domain: string, c: Credentials): SwarmAuthConfig {
  const serveraddress = serverAddress(domain);
  if (c.token !== undefined) return { registrytoken: c.token, serveraddress };
  return { username: c.username ?? '', password: c.password ?? '', serveraddress };
}

/** `images`: service key → the reference its nodes pull (pinned by digest or not). */
export function serviceAuths(images: Record<string, string>, load: (domain: string) => Credentials | undefined): ServiceAuths {
  const byService = new Map<string, SwarmAuthConfig>();
  const byDomain = new Map<string, SwarmAuthConfig | undefined>();
  for (const [key, ref] of Object.entries(images)) {
    const domain = parseReference(ref).domain;
    if (!byDomain.has(domain)) {
      const c = load(domain);
      byDomain.set(domain, c ? authConfig(domain, c) : undefined);
    }
    const a = byDomain.get(domain);
    if (a) byService.set(key, a);
  }
  const without = [...byDomain].filter(([, a]) => !a).map(([d]) => d).sort();
  return { byService, without };
}
