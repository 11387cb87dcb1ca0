// Extra CA certificates, deferred to the connections that use them.
//
// With NODE_EXTRA_CA_CERTS set, Node 20 builds its whole root store (its ~140 roots and the
// file's, each parsed) while it starts, before any JavaScript runs: ~40 ms of every command
// on this machine, whose environment sets it, for certificates most commands never use.
// bin/tsstack.js's first line starts Node without it; the launcher puts it back into the
// environment (for what the command runs) and leaves the path here. What connects with TLS
// (the registry client; `deploy` runs again with Node loading them) trusts Node's roots and
// that file, as Node would have. Started any other way (`node bin/tsstack.js`), Node has
// loaded them itself and nothing here applies.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { rootCertificates } from 'node:tls';

const KEY = Symbol.for('tsstack.deferredExtraCa');

/** The file of extra CA certificates Node was started without (bin/tsstack.js), if any. */
export function deferredCaFile(): string | undefined {
  const f = (globalThis as Record<symbol, unknown>)[KEY];
  return typeof f === 'string' && f ? f : undefined;
}

const loaded = new Map<string, string[]>();

/**
 * Node's roots and the certificates of `file` (PEM), for a TLS connection's `ca`. A file that cannot
 * be read is warned about and left out, as Node does with NODE_EXTRA_CA_CERTS.
 */
export function caWithExtra(file: string, warn: (m: string) => void = (m) => process.emitWarning(m)): string[] {
  let ca = loaded.get(file);
  if (ca) return ca;
  ca = [...rootCertificates];
  try {
    ca.push(readFileSync(file, 'utf8'));
  } catch (e) {
    warn(`Ignoring extra certs from \`${file}\`, load failed: ${(e as Error).message}`);
  }
  loaded.set(file, ca);
  return ca;
}

/**
 * Runs this command again, Node loading the certificates itself (they are back in the environment),
 * and returns its exit status: for clients whose TLS takes Node's defaults only (the cluster clients
 * of `deploy`), which talk over the network long enough that a second start does not count.
 */
export function rerunWithExtraCa(): number {
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  return r.status ?? (r.signal ? 128 + (osConstants.signals[r.signal] ?? 0) : 1);
}

/**
 * The environment for another run of this CLI (bin/tsstack.js, started by its path): the certificates
 * deferred again, as the launcher's first line does, when this process had them deferred.
 */
export function deferredForOwnRun(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const f = deferredCaFile();
  if (!f || env.NODE_EXTRA_CA_CERTS !== f) return env;
  const out: NodeJS.ProcessEnv = { ...env, TSSTACK_EXTRA_CA_CERTS: f };
  delete out.NODE_EXTRA_CA_CERTS;
  return out;
}
