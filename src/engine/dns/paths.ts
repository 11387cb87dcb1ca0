// Where a network namespace's DNS server keeps its files. Apart from service.ts so that cheap
// readers (the converged-`up` check) find the server's pid without loading the service.

import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** This process's network namespace as a stable key (the inode of its nsfs file). */
export function netnsKey(): string {
  try {
    return `net-${statSync('/proc/self/ns/net').ino}`;
  } catch {
    return 'net-unknown';
  }
}

/** The directory of the DNS server of this process's network namespace: `pid`, `loaded`, `dns.log`. */
export function dnsServerDir(runRoot: string): string {
  return join(resolve(runRoot), 'dns', netnsKey());
}
