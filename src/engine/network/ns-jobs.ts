// Messages between the engine and its namespace worker (ns-worker.ts). Plain data.

export type NsJob =
  /** Make a new network namespace and pin it by bind-mounting it on `path` (an existing empty file); loopback up. */
  | { kind: 'create'; path: string }
  /** Inside the namespace pinned at `path`: address `ifname`, bring it up, optionally add the default route. */
  | { kind: 'configure'; path: string; ifname: string; address: string; prefixLen: number; gateway: string; defaultRoute: boolean }
  /** Write sysctls (`net.ipv4.ip_forward` form) inside the namespace. */
  | { kind: 'sysctl'; path: string; values: Record<string, string> }
  /** Links and IPv4 addresses inside the namespace. */
  | { kind: 'inspect'; path: string };

export interface NsInspect {
  links: { index: number; name: string; kind?: string; up: boolean }[];
  addresses: { index: number; address: string; prefixLen: number }[];
}

export type NsRequest = { id: number; job: NsJob };
export type NsResponse = { id: number; ok: true; result?: unknown } | { id: number; ok: false; message: string; code?: string };
