// A real OCI registry for tests: Debian's docker-registry on 127.0.0.1 with a
// config and storage of its own in a temp dir. `stop()` kills it (by pid) and
// removes the dir.  Push into it with `skopeoCopy('oci:DIR:tag', registry.ref('repo:tag'))`.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTemp, rmTemp } from './rootfs.js';

export const REGISTRY_BIN = '/usr/bin/docker-registry';
export const haveRegistry = (): boolean => existsSync(REGISTRY_BIN);
export const haveSkopeo = (): boolean => existsSync('/usr/bin/skopeo');

export interface TestRegistry {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT`, the registry part of image references. */
  host: string;
  port: number;
  /** `docker://127.0.0.1:PORT/<repoTag>` for skopeo. */
  ref(repoTag: string): string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** `htpasswd`: a file of `user:bcrypt-hash` lines; the registry then asks for basic auth. */
export async function startRegistry(opts: { htpasswd?: string } = {}): Promise<TestRegistry> {
  const dir = makeTemp('tsstack-registry-');
  const port = await freePort();
  const cfg = join(dir, 'config.yml');
  writeFileSync(cfg, [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    ...(opts.htpasswd ? ['auth:', '  htpasswd:', '    realm: tsstack-test', `    path: ${opts.htpasswd}`] : []),
    '',
  ].join('\n'));
  const child: ChildProcess = spawn(REGISTRY_BIN, ['serve', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    }
    rmTemp(dir);
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const r = await fetch(`${url}/v2/`);
      if (r.status === 200 || (opts.htpasswd && r.status === 401)) break;
    } catch { /* not listening yet */ }
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry did not start: ${stderr.slice(-500)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url, host: `127.0.0.1:${port}`, port, ref: (rt) => `docker://127.0.0.1:${port}/${rt}`, stop };
}

/**
 * Runs skopeo in a private mount namespace with a tmpfs over /var/lib, so its
 * blob-info cache (/var/lib/containers/cache) is neither left on the host nor
 * shared between runs (a shared cache makes skopeo reuse blobs across pushes).
 */
export async function skopeo(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', 'mount -t tmpfs tmpfs /var/lib && exec skopeo "$@"', 'skopeo', ...args], { maxBuffer: 16 << 20 });
}

/** `skopeo copy` without TLS checks; extra args e.g. ['--dest-compress-format', 'zstd']. */
export async function skopeoCopy(src: string, dest: string, extra: string[] = []): Promise<void> {
  await skopeo(['copy', '--quiet', '--insecure-policy', '--src-tls-verify=false', '--dest-tls-verify=false', ...extra, src, dest]);
}
