// engine/network: bridges, sandboxes, IPAM and the tsstack nftables table.
export { NetworkManager, DEFAULT_ROOT, tableFor, type NetworkManagerOptions, type EndpointResult, type PublishResult } from './manager.js';
export type { EndpointRecord, NetworkRecord, PortRecord } from './state.js';
