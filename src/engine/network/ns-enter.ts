// Work inside a pinned network namespace, done by the engine's main thread: it steps in, opens a netlink
// socket (bound for its lifetime to the namespace it was opened in) or writes /proc/sys, and steps back
// out, all synchronously, so no callback, timer or spawn ever runs while the thread is elsewhere (libuv's
// pool threads never move). The replies are then awaited at home on that socket. This replaced a worker
// thread that cost ~0.1 s to load on the first sandbox of every command.

import { closeSync, openSync, writeFileSync } from 'node:fs';
import type { RtNetlinkSocket } from './rtnl.js';
import { CLONE_NEWNET, MNT_DETACH, MS_BIND, check, getLibc } from './libc.js';
import { addAddress, addDefaultRoute, listAddresses, listLinks, openRtnl, setUp } from './rtnl.js';
import { openSocket, setUpNamed } from './raw-rtnl.js';

export interface NsInspect {
  links: { index: number; name: string; kind?: string; up: boolean }[];
  addresses: { index: number; address: string; prefixLen: number }[];
}

/**
 * Runs `inside` (synchronous: it must not return a promise) in the namespace `into` makes current —
 * entered at `path`, or a new one — and returns to the thread's own namespace before anything else runs.
 */
function within<T>(into: { path: string } | 'new', inside: () => T): T {
  const libc = getLibc();
  const home = openSync('/proc/thread-self/ns/net', 'r');
  try {
    if (into === 'new') check(libc.unshare(CLONE_NEWNET), 'unshare(CLONE_NEWNET)');
    else {
      const fd = openSync(into.path, 'r');
      try {
        check(libc.setns(fd, CLONE_NEWNET), `setns ${into.path}`);
      } finally {
        closeSync(fd);
      }
    }
    try {
      return inside();
    } finally {
      // the main thread left in a sandbox would put every later socket, link and spawn there: better to
      // die (the intents let the next command undo what this one left half made)
      if (libc.setns(home, CLONE_NEWNET) < 0) process.exit(70);
    }
  } finally {
    closeSync(home);
  }
}

async function withSocket<T>(s: RtNetlinkSocket, fn: (s: RtNetlinkSocket) => Promise<T>): Promise<T> {
  try {
    return await fn(s);
  } finally {
    s.close();
  }
}

/** A new network namespace pinned by bind-mounting it on `path` (an existing empty file); loopback up. */
export async function createNamespace(path: string): Promise<void> {
  const libc = getLibc();
  within('new', () => {
    check(libc.mount('/proc/thread-self/ns/net', path, null, MS_BIND, null), `bind mount of the new namespace on ${path}`);
    // loopback up, synchronously while inside: one request on a raw socket, where the netlink package's
    // socket cost a dump of the links, a request and their round trips through the event loop
    try {
      const s = openSocket();
      try {
        setUpNamed(s, 'lo');
      } finally {
        s.close();
      }
    } catch (e) {
      libc.umount2(path, MNT_DETACH); // the pin goes with the failure: the caller removes the file
      throw e;
    }
  });
}

/** Inside the namespace at `path`: address `ifname`, bring it up, optionally add the default route. */
export async function configureNamespace(path: string, cfg: { ifname: string; address: string; prefixLen: number; gateway: string; defaultRoute: boolean }): Promise<void> {
  await withSocket(within({ path }, openRtnl), async (s) => {
    const links = await listLinks(s); // one dump for both: loopback and the interface
    const lo = links.find((l) => l.name === 'lo');
    if (lo && !lo.up) await setUp(s, lo.index);
    const link = links.find((l) => l.name === cfg.ifname);
    if (!link) throw new Error(`interface ${cfg.ifname} not found in ${path}`);
    const have = (await listAddresses(s)).some((a) => a.index === link.index && a.address === cfg.address);
    if (!have) await addAddress(s, link.index, cfg.address, cfg.prefixLen);
    if (!link.up) await setUp(s, link.index);
    if (cfg.defaultRoute) {
      try {
        await addDefaultRoute(s, cfg.gateway, link.index);
      } catch (e) {
        if (!/EEXIST/.test(String(e))) throw e;
      }
    }
  });
}

/** Writes sysctls (`net.ipv4.ip_forward` form) inside the namespace at `path`. */
export function namespaceSysctl(path: string, values: Record<string, string>): void {
  within({ path }, () => {
    for (const k of Object.keys(values).sort()) writeFileSync(`/proc/sys/${k.replace(/\./g, '/')}`, values[k]!);
  });
}

/** Links and IPv4 addresses inside the namespace at `path`. */
export async function inspectNamespace(path: string): Promise<NsInspect> {
  return withSocket(within({ path }, openRtnl), async (s) => ({
    links: (await listLinks(s)).map(({ index, name, kind, up }) => ({ index, name, kind, up })),
    addresses: await listAddresses(s),
  }));
}
