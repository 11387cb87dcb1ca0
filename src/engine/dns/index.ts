// Service DNS: the engine's records + the tsstack-dns server process, and the
// pure helpers for a container's /etc/resolv.conf, /etc/hosts and /etc/hostname.
export { DnsService, defaultDnsBinary, type DnsServiceOptions, type DnsStatus } from './service.js';
export { renderRecords, containerNames, emptyState, gatewayOf, isRecordName, isStateFilePath, parseUpstream, type DnsContainer, type DnsEndpoint, type DnsNetwork, type DnsState, type RenderOptions, type Upstream } from './records.js';
export { renderResolvConf, renderHosts, renderHostname, parseResolvConf, extraHostsEntries, type HostsEntry, type ResolvConf } from './etc-files.js';
export { dnsServerDir, netnsKey } from './paths.js';
