// Shapes shared by the Swarm mapper, differ and executor. The specs are the
// Docker Engine API's own JSON (ServiceSpec, NetworkCreate, SecretSpec,
// ConfigSpec), kept as plain objects so the mapper and differ stay pure and
// are tested with literals.

/** Labels every object tsstack makes on a Swarm carries. */
export const PROJECT_LABEL = 'tsstack.project';
export const SERVICE_LABEL = 'tsstack.service';
export const HASH_LABEL = 'tsstack.config-hash';
/** On secrets and configs: the stack's key (the object's name carries a content hash too). */
export const OBJECT_LABEL = 'tsstack.object';
/** On networks: what the IPVS probe found when the network was made (`present` / `absent`). */
export const IPVS_LABEL = 'tsstack.ipvs';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

/** A stack key Swarm has no faithful form for, with where it was written. */
export interface SwarmWarning {
  file?: string;
  line?: number;
  /** Dotted path of the key, e.g. `services.web.privileged`. */
  path: string;
  message: string;
}

export interface DesiredService {
  /** The stack's service key. */
  key: string;
  /** `<project>_<key>`. */
  name: string;
  /** The Engine API ServiceSpec, secrets and configs referenced by name only (`SecretName`/`ConfigName`), networks by name. */
  spec: JsonObject;
  /** sha256 of the spec (without this label); stored as the tsstack.config-hash label. */
  hash: string;
  /** Services of this stack it waits for (depends_on and links). */
  dependsOn: string[];
}

export interface DesiredNetwork {
  key: string;
  name: string;
  /** NetworkCreate body (Name, Driver, Attachable, Labels, …); absent for external networks, which must exist. */
  create?: JsonObject;
}

export interface DesiredFileObject {
  kind: 'secret' | 'config';
  key: string;
  /** `<project>_<key>_<hash8>`, or the external object's own name. */
  name: string;
  external: boolean;
  /** SecretSpec / ConfigSpec (Data base64); absent when external. */
  create?: JsonObject;
}

export interface Desired {
  project: string;
  services: DesiredService[];
  networks: DesiredNetwork[];
  secrets: DesiredFileObject[];
  configs: DesiredFileObject[];
  warnings: SwarmWarning[];
}

/** What the Swarm has of the project (found by the project label). */
export interface Live {
  services: { id: string; name: string; version: number; spec: JsonObject; labels: Record<string, string> }[];
  networks: { id: string; name: string; labels: Record<string, string> }[];
  secrets: { id: string; name: string; labels: Record<string, string> }[];
  configs: { id: string; name: string; labels: Record<string, string> }[];
  /** Network id → name for every network the Swarm has (service specs name networks by id). */
  networkNames: Record<string, string>;
}

export type Action =
  | { kind: 'create-network'; name: string; body: JsonObject }
  | { kind: 'create-secret' | 'create-config'; name: string; key: string; body: JsonObject }
  | { kind: 'create-service'; service: DesiredService }
  | { kind: 'update-service'; service: DesiredService; id: string; version: number; changed: string[] }
  | { kind: 'remove-service'; name: string; id: string }
  | { kind: 'remove-secret' | 'remove-config'; name: string; id: string }
  | { kind: 'remove-network'; name: string; id: string };

export interface Plan {
  actions: Action[];
  /** Services whose spec is as desired. */
  unchanged: string[];
  /** External networks, secrets or configs the stack names that the Swarm lacks. */
  missing: string[];
}
