// Worker thread that enters sandboxes. A thread may setns(CLONE_NEWNET) on its
// own; the main thread never changes namespace. Jobs run one at a time, and
// every job returns the thread to the namespace it started in before the next.
// Only synchronous fs calls are used while inside a sandbox: async fs would run
// on libuv pool threads, which stay in the engine's namespace.

import { parentPort } from 'node:worker_threads';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import type { RtNetlinkSocket } from 'netlink';
import { CLONE_NEWNET, MS_BIND, check, getLibc } from './libc.js';
import { addAddress, addDefaultRoute, linkByName, listAddresses, listLinks, openRtnl, setUp } from './rtnl.js';
import type { NsInspect, NsJob, NsRequest, NsResponse } from './ns-jobs.js';

const libc = getLibc();
const home = openSync('/proc/thread-self/ns/net', 'r');

function enter(path: string): void {
  const fd = openSync(path, 'r');
  try {
    check(libc.setns(fd, CLONE_NEWNET), `setns ${path}`);
  } finally {
    closeSync(fd);
  }
}

const STRANDED = "the namespace worker could not return to the engine's network namespace (setns refused); it ends, and the next job gets a new one";
let stranded = false;

function leave(): void {
  // Failing to return home would leave every later job in the wrong namespace: this job fails and the thread
  // ends once it has answered (not here: process.exit inside a netlink callback aborts Node)
  if (libc.setns(home, CLONE_NEWNET) < 0) stranded = true;
}

function writeSysctls(values: Record<string, string>): void {
  for (const k of Object.keys(values).sort()) {
    writeFileSync(`/proc/sys/${k.replace(/\./g, '/')}`, values[k]!);
  }
}

async function withSocket<T>(fn: (s: RtNetlinkSocket) => Promise<T>): Promise<T> {
  const s = openRtnl();
  try {
    return await fn(s);
  } finally {
    s.socket.close();
  }
}

async function loUp(s: RtNetlinkSocket): Promise<void> {
  const lo = await linkByName(s, 'lo');
  if (lo && !lo.up) await setUp(s, lo.index);
}

async function run(job: NsJob): Promise<unknown> {
  if (job.kind === 'create') {
    check(libc.unshare(CLONE_NEWNET), 'unshare(CLONE_NEWNET)');
    try {
      check(libc.mount('/proc/thread-self/ns/net', job.path, null, MS_BIND, null), `bind mount of the new namespace on ${job.path}`);
      await withSocket(loUp);
    } finally {
      leave();
    }
    return undefined;
  }
  enter(job.path);
  try {
    switch (job.kind) {
      case 'configure':
        return await withSocket(async (s) => {
          await loUp(s);
          const link = await linkByName(s, job.ifname);
          if (!link) throw new Error(`interface ${job.ifname} not found in ${job.path}`);
          const have = (await listAddresses(s)).some((a) => a.index === link.index && a.address === job.address);
          if (!have) await addAddress(s, link.index, job.address, job.prefixLen);
          if (!link.up) await setUp(s, link.index);
          if (job.defaultRoute) {
            try {
              await addDefaultRoute(s, job.gateway, link.index);
            } catch (e) {
              if (!/EEXIST/.test(String(e))) throw e;
            }
          }
          return undefined;
        });
      case 'sysctl':
        writeSysctls(job.values);
        return undefined;
      case 'inspect':
        return await withSocket(async (s): Promise<NsInspect> => ({
          links: (await listLinks(s)).map(({ index, name, kind, up }) => ({ index, name, kind, up })),
          addresses: await listAddresses(s),
        }));
    }
  } finally {
    leave();
  }
}

let chain: Promise<void> = Promise.resolve();
parentPort!.on('message', (req: NsRequest) => {
  chain = chain.then(async () => {
    let res: NsResponse;
    try {
      if (stranded) throw new Error(STRANDED);
      res = { id: req.id, ok: true, result: await run(req.job) };
    } catch (e) {
      const err = e as Error & { code?: string };
      res = { id: req.id, ok: false, message: err.message ?? String(e), code: err.code };
    }
    if (stranded) res = { id: req.id, ok: false, message: STRANDED, code: 'ENSLOST' };
    parentPort!.postMessage(res);
    if (stranded) setImmediate(() => process.exit(70)); // ns-client.ts rejects what is pending and starts another
  });
});
