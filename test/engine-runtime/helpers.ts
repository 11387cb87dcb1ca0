// Test support for engine-runtime: an overlay root over a busybox directory
// (a real RootfsProvider, no image store needed), bundles for the monitor, and
// checks that nothing was left behind.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nativeBinary } from '../../src/engine/native-paths.js';
import type { RootfsProvider } from '../../src/engine/runtime/deps.js';
import { buildOciSpec, type OciSpecInput } from '../../src/engine/runtime/oci-spec.js';
import { resolveUserInRootfs } from '../../src/engine/runtime/users.js';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';

/** Runtimes to run the container tests under (override: TSSTACK_TEST_RUNTIMES=runc,tsstack-runtime):
 *  tsstack-runtime when built, runc when installed. crun 1.8 refuses this host's hybrid cgroup layout
 *  ("cgroups in hybrid mode not supported"), so it is only tested when named explicitly. */
export function runtimes(): string[] {
  if (process.env.TSSTACK_TEST_RUNTIMES) return process.env.TSSTACK_TEST_RUNTIMES.split(',').filter(Boolean);
  const out: string[] = [];
  try {
    nativeBinary('runtime');
    out.push('tsstack-runtime');
  } catch { /* not built */ }
  if (existsSync('/usr/sbin/runc') || existsSync('/usr/bin/runc')) out.push('runc');
  return out;
}

export class OverlayRootfs implements RootfsProvider {
  readonly lower: string;
  constructor(base: string) {
    this.lower = join(base, 'busybox');
    if (!existsSync(join(this.lower, 'bin/busybox'))) {
      mkdirSync(this.lower, { recursive: true });
      makeBusyboxRootfs(this.lower);
    }
  }

  async mountRootfs(_imageId: string, dir: string): Promise<string> {
    for (const d of ['upper', 'work', 'rootfs']) mkdirSync(join(dir, d), { recursive: true });
    const rootfs = join(dir, 'rootfs');
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${this.lower},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`, rootfs]);
    return rootfs;
  }

  async unmountRootfs(dir: string): Promise<void> {
    const rootfs = join(dir, 'rootfs');
    if (mountsUnder(rootfs).length) execFileSync('umount', [rootfs]);
  }
}

/** Mount points at or below `prefix` in this mount namespace. */
export function mountsUnder(prefix: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m === prefix || m.startsWith(prefix + '/'));
}

/** cgroup directories named `id` under any `tsstack/` dir of any hierarchy (depth-limited walk). */
export function cgroupLeftovers(id: string): string[] {
  const found: string[] = [];
  const walk = (d: string, depth: number) => {
    if (depth > 5) return;
    let ents: string[];
    try { ents = readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name); } catch { return; }
    for (const e of ents) {
      if (e === id && d.endsWith('/tsstack')) found.push(join(d, e));
      else if (e === 'tsstack' || depth < 3) walk(join(d, e), depth + 1);
    }
  };
  walk('/sys/fs/cgroup', 0);
  return found;
}

export function processGone(pid: number): boolean {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const st = s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
    return st === 'Z' || st === 'X';
  } catch {
    return true;
  }
}

export async function until(cond: () => boolean, timeoutMs = 10000, stepMs = 25): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return cond();
}

export interface TestBundle { dir: string; bundle: string; rootfs: string; state: string; log: string; socket: string; id: string }

let seq = 0;
/** A bundle under `base` with an overlay root and a config from buildOciSpec. */
export async function makeBundle(base: string, fs: OverlayRootfs, args: string[], extra: Partial<OciSpecInput> = {}): Promise<TestBundle> {
  const id = `t${process.pid}x${++seq}`;
  const dir = join(base, id);
  mkdirSync(join(dir, 'bundle'), { recursive: true });
  const rootfs = await fs.mountRootfs('busybox', dir);
  const spec = buildOciSpec({
    rootfs, args, env: [], cwd: '/', user: resolveUserInRootfs(rootfs, undefined), hostname: id,
    cgroupsPath: `tsstack/${id}`, ...extra,
  });
  writeFileSync(join(dir, 'bundle', 'config.json'), JSON.stringify(spec));
  return { dir, bundle: join(dir, 'bundle'), rootfs, state: join(dir, 'state.json'), log: join(dir, 'log.json'), socket: join(dir, 'ctl.sock'), id };
}

export function readJsonLines(path: string): { time: string; stream: string; log: string }[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { time: string; stream: string; log: string });
}

/** The OCI runtime-spec config validator from ../shared/conformance (undefined when that folder is absent). */
export async function ociConfigValidator(): Promise<((v: unknown) => boolean) & { errors?: unknown } | undefined> {
  const dir = join(process.cwd(), '../shared/conformance/runtime-spec/schema');
  if (!existsSync(join(dir, 'config-schema.json'))) return undefined;
  const Ajv04 = (await import('ajv-draft-04')).default as unknown as new (o: object) => { addSchema(s: object): void; getSchema(id: string): ((v: unknown) => boolean) & { errors?: unknown } };
  const ajv = new Ajv04({ strict: false, allErrors: true, validateFormats: false });
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) {
    ajv.addSchema({ ...(JSON.parse(readFileSync(join(dir, f), 'utf8')) as object), id: `https://oci.invalid/schema/${f}` });
  }
  return ajv.getSchema('https://oci.invalid/schema/config-schema.json');
}

export interface EngineParts {
  images: import('../../src/engine/image/store.js').ImageStore;
  /** busybox:latest, imported into `images`. */
  imageId: string;
  network: import('../../src/engine/network/manager.js').NetworkManager;
  /** Forwarding to a closed loopback port: nothing leaves the test's namespace. */
  dns: import('../../src/engine/dns/service.js').DnsService;
}

/** The real engine parts over one root (busybox imported), or why they are not available. */
export async function engineParts(root: string, runRoot: string): Promise<EngineParts | string> {
  try {
    const { ImageStore } = await import('../../src/engine/image/store.js');
    const { NetworkManager } = await import('../../src/engine/network/manager.js');
    const { DnsService } = await import('../../src/engine/dns/service.js');
    const { makeBusyboxImage } = await import('../helpers/images.js');
    const images = new ImageStore({ root });
    const img = await makeBusyboxImage(images);
    return { images, imageId: img.id, network: new NetworkManager({ root, runRoot }), dns: new DnsService({ runRoot, upstreams: ['127.0.0.1:9'] }) };
  } catch (e) {
    return `engine parts not available: ${(e as Error).message}`;
  }
}

