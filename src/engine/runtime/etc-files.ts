// A container's /etc/hostname, /etc/hosts and /etc/resolv.conf (pure), used
// when the DNS service does not render them itself (no network, or none wired).

export function renderHostnameFile(hostname: string): string {
  return `${hostname}\n`;
}

export function renderHostsFile(entries: { address: string; names: string[] }[]): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  for (const e of entries) if (e.names.length) lines.push(`${e.address}\t${[...new Set(e.names)].join(' ')}`);
  return lines.join('\n') + '\n';
}

/** Docker's rule for containers without the embedded DNS: the host's resolvers minus loopback ones (unreachable from a namespace). */
export function resolvConfFromHost(hostText: string, overrideServers: string[] = [], search: string[] = []): string {
  const servers: string[] = [];
  let hostSearch: string[] = [];
  const options: string[] = [];
  for (const raw of hostText.split('\n')) {
    const [k, ...rest] = raw.replace(/[#;].*$/, '').trim().split(/\s+/);
    if (k === 'nameserver' && rest[0] && !/^127\.|^::1$/.test(rest[0])) servers.push(rest[0]);
    else if (k === 'search' || k === 'domain') hostSearch = rest.filter(Boolean);
    else if (k === 'options') options.push(...rest.filter(Boolean));
  }
  const ns = overrideServers.length ? overrideServers : servers.length ? servers : ['8.8.8.8', '8.8.4.4'];
  const srch = search.length ? search : hostSearch;
  const lines: string[] = [];
  if (srch.length) lines.push(`search ${srch.join(' ')}`);
  for (const n of ns) lines.push(`nameserver ${n}`);
  if (options.length) lines.push(`options ${options.join(' ')}`);
  return lines.join('\n') + '\n';
}

/**
 * `dns_opt`: the given resolver options replace any `options` lines (as Docker: the host's or the
 * generated ones no longer apply), written once at the end, after `nameserver` and `search`.
 */
export function withResolvOptions(resolvConf: string, options: string[]): string {
  const lines = resolvConf.split('\n').filter((l) => l !== '' && !/^\s*options(\s|$)/.test(l));
  if (options.length) lines.push(`options ${options.join(' ')}`);
  return lines.join('\n') + '\n';
}

/** `extra_hosts` entries `name:ip`, `name=ip` (IPv6 addresses contain colons: split at the first separator).
 *  `host-gateway` is the host as the container reaches it: its first network's gateway. */
export function parseExtraHost(s: string, hostGateway = '127.0.0.1'): { address: string; names: string[] } | undefined {
  const i = s.search(/[=:]/);
  if (i <= 0) return undefined;
  const address = s.slice(i + 1).replace(/^\[|\]$/g, '');
  return address ? { address: address === 'host-gateway' ? hostGateway : address, names: [s.slice(0, i)] } : undefined;
}
