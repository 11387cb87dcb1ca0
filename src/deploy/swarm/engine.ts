// The Docker Engine API of a Swarm manager, through dockerode: connect and
// check the node, observe the project's objects by label, run a plan's
// actions, wait for services to converge. Every failure of the remote side is
// a REMOTE error (exit 9) that names the engine and says what to do.

import Docker from 'dockerode';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TsstackError } from '../../util/errors.js';
import { PROJECT_LABEL, type JsonObject, type Live } from './types.js';

/** Where the Engine API is: --host, else DOCKER_HOST, else the local socket. */
export function engineAddress(host: string | undefined, env: NodeJS.ProcessEnv): string {
  return host ?? env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
}

export function dockerOptions(address: string, env: NodeJS.ProcessEnv): Docker.DockerOptions {
  let u: URL;
  try {
    u = new URL(address);
  } catch {
    throw new TsstackError('USAGE', `${JSON.stringify(address)} is not an engine address`, { hint: 'unix:///var/run/docker.sock or tcp://HOST:2376' });
  }
  if (u.protocol === 'unix:') return { socketPath: u.pathname, timeout: 60_000 };
  if (u.protocol === 'tcp:' || u.protocol === 'http:' || u.protocol === 'https:') {
    const tls = u.protocol === 'https:' || !!env.DOCKER_TLS_VERIFY;
    const certs = env.DOCKER_CERT_PATH ?? join(env.HOME ?? '/root', '.docker');
    const read = (f: string) => readFileSync(join(certs, f));
    return {
      host: u.hostname, port: u.port || (tls ? 2376 : 2375), protocol: tls ? 'https' : 'http', timeout: 60_000,
      ...(tls ? { ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') } : {}),
    };
  }
  throw new TsstackError('USAGE', `engine address ${address}: only unix:// and tcp:// are supported`);
}

interface ApiError { statusCode?: number; json?: { message?: string }; message?: string; code?: string }

/** The engine's own words for a failed call. */
export function apiMessage(e: unknown): string {
  const a = e as ApiError;
  return a?.json?.message ?? (typeof a?.message === 'string' ? a.message.replace(/^\(HTTP code \d+\) [a-z ]+ - /, '') : String(e));
}

export class SwarmEngine {
  readonly docker: Docker;
  constructor(readonly address: string, env: NodeJS.ProcessEnv) {
    this.docker = new Docker(dockerOptions(address, env));
  }

  remote(what: string, e: unknown, hint?: string): TsstackError {
    return new TsstackError('REMOTE', `${what} on the Swarm at ${this.address}: ${apiMessage(e)}`, { hint, cause: e });
  }

  /** Reachable, in a Swarm, and a manager; else one clear REMOTE error. */
  async checkManager(): Promise<void> {
    let info: { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean; NodeAddr?: string } };
    try {
      info = await this.docker.info() as typeof info;
    } catch (e) {
      throw new TsstackError('REMOTE', `cannot reach the Docker engine at ${this.address}: ${apiMessage(e)}`, {
        hint: 'is dockerd running there? Point --host (or DOCKER_HOST) at a Swarm manager', cause: e,
      });
    }
    const state = info.Swarm?.LocalNodeState;
    if (state !== 'active') {
      throw new TsstackError('REMOTE', `the Docker engine at ${this.address} is not part of a Swarm (state: ${state || 'inactive'})`, { hint: 'docker swarm init there, or point --host at a Swarm manager' });
    }
    if (!info.Swarm?.ControlAvailable) {
      throw new TsstackError('REMOTE', `the Docker engine at ${this.address} is a Swarm worker, not a manager: only managers take services`, { hint: 'point --host at a manager (docker node ls on a manager lists them)' });
    }
  }

  private filter(project: string): { filters: string } {
    return { filters: JSON.stringify({ label: [`${PROJECT_LABEL}=${project}`] }) };
  }

  async observe(project: string): Promise<Live> {
    try {
      const [services, networks, secrets, configs, allNets] = await Promise.all([
        this.docker.listServices(this.filter(project)) as unknown as Promise<{ ID: string; Version: { Index: number }; Spec: JsonObject }[]>,
        this.docker.listNetworks(this.filter(project)),
        this.docker.listSecrets(this.filter(project)) as unknown as Promise<{ ID: string; Spec: { Name: string; Labels?: Record<string, string> } }[]>,
        this.docker.listConfigs(this.filter(project)) as unknown as Promise<{ ID: string; Spec: { Name: string; Labels?: Record<string, string> } }[]>,
        this.docker.listNetworks(),
      ]);
      return {
        services: services.map((s) => ({ id: s.ID, name: String(s.Spec.Name), version: s.Version.Index, spec: s.Spec, labels: (s.Spec.Labels ?? {}) as Record<string, string> })),
        // swarm-scoped only: a node's local network of the same labels is not the Swarm's
        networks: networks.filter((n) => n.Scope === 'swarm').map((n) => ({ id: n.Id, name: n.Name, labels: n.Labels ?? {} })),
        secrets: secrets.map((s) => ({ id: s.ID, name: s.Spec.Name, labels: s.Spec.Labels ?? {} })),
        configs: configs.map((s) => ({ id: s.ID, name: s.Spec.Name, labels: s.Spec.Labels ?? {} })),
        networkNames: Object.fromEntries(allNets.map((n) => [n.Id, n.Name])),
      };
    } catch (e) {
      throw this.remote('listing the project\'s objects failed', e);
    }
  }

  /** Every name the Swarm has, per kind (services, swarm-scoped networks, secrets, configs). */
  async allNames(): Promise<{ service: Set<string>; network: Set<string>; secret: Set<string>; config: Set<string> }> {
    const [services, networks, secrets, configs] = await Promise.all([
      this.docker.listServices() as unknown as Promise<{ Spec: { Name: string } }[]>,
      this.docker.listNetworks(),
      this.idsByName('secret'),
      this.idsByName('config'),
    ]);
    return {
      service: new Set(services.map((x) => x.Spec.Name)),
      network: new Set(networks.filter((n) => n.Scope === 'swarm').map((n) => n.Name)),
      secret: new Set(secrets.keys()),
      config: new Set(configs.keys()),
    };
  }

  async idsByName(kind: 'secret' | 'config'): Promise<Map<string, string>> {
    const list = (kind === 'secret' ? await this.docker.listSecrets() : await this.docker.listConfigs()) as unknown as { ID: string; Spec: { Name: string } }[];
    return new Map(list.map((x) => [x.Spec.Name, x.ID]));
  }

  /** The service's tasks; none once the service is gone. */
  async tasks(serviceId: string): Promise<Task[]> {
    try {
      return await this.docker.listTasks({ filters: JSON.stringify({ service: [serviceId] }) }) as Task[];
    } catch (e) {
      if ((e as ApiError).statusCode === 404) return [];
      throw e;
    }
  }

  async service(id: string): Promise<{ ID: string; Version: { Index: number }; Spec: JsonObject; UpdateStatus?: { State?: string; Message?: string } } | undefined> {
    try {
      return await this.docker.getService(id).inspect();
    } catch (e) {
      if ((e as ApiError).statusCode === 404) return undefined;
      throw e;
    }
  }
}

export interface Task {
  ID: string;
  Slot?: number;
  NodeID?: string;
  ServiceID: string;
  DesiredState: string;
  Version?: { Index: number };
  Spec?: JsonObject;
  Status: { State: string; Err?: string; Message?: string; Timestamp?: string; ContainerStatus?: { ExitCode?: number } };
}
