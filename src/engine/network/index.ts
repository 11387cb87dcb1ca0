// engine/network: bridges, sandboxes, IPAM and the tsstack nftables table.
//
//   manager.ts         NetworkManager: NetworkApi + the container-facing seam (SEAMS.md)
//   cidr.ts, ipam.ts   IPv4 arithmetic, subnet and address choice (pure)
//   nft-rules.ts       the nftables table as data (pure); nft.ts runs it through libnftables (FFI)
//   port-conflicts.ts  whether host ports can be published (pure); ports.ts reads /proc listeners and owners
//   rtnl.ts, nla.ts    links, addresses, routes over rtnetlink
//   ns-enter.ts        work inside sandboxes: the main thread steps in and out synchronously
//   conntrack.ts       forgetting NAT bindings of unpublished ports (ctnetlink)
//   state.ts           <root>/networks/*.json and the lock; host.ts facts about the host; libc.ts FFI
export { NetworkManager, DEFAULT_ROOT, tableFor, type NetworkManagerOptions, type EndpointResult, type PublishResult } from './manager.js';
export type { EndpointRecord, NetworkRecord, PortRecord } from './state.js';
