// The engine's writes on the host outside its containers' own directories, asked
// for by reconcile (api.ts HostApi): bind sources the stack asks to create, and
// the configs/secrets generated from content or the environment.

import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomicSync } from '../util/fs-atomic.js';

/** Missing bind sources become directories (`create_host_path`, compose's short syntax); existing paths are left as they are. */
export function makeBindSources(paths: string[]): void {
  for (const p of paths) if (!existsSync(p)) mkdirSync(p, { recursive: true });
}

/**
 * Writes generated configs/secrets (idempotent: names carry a content hash, an existing file is kept).
 * Only root reads them: the project's directory and its `secrets/`/`configs/` are 0700, the files 0600; each
 * container gets its own copy with the owner and mode it needs (the bind mount's `file` option).
 */
export function writeGeneratedFiles(files: { path: string; content: string }[]): void {
  for (const f of files) {
    if (existsSync(f.path)) continue;
    mkdirSync(dirname(f.path), { recursive: true, mode: 0o700 }); // <root>/projects/<project>/ made 0700 too
    chmodSync(dirname(f.path), 0o700); // secrets/ or configs/, also when an older tsstack made it
    writeFileAtomicSync(f.path, f.content, 0o600);
  }
}
