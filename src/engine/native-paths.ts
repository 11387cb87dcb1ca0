// Where the native binaries are: `native/bin/tsstack-<part>` in the package,
// found from this module's own location (src/ or dist/src/), or under
// TSSTACK_NATIVE_DIR when set. Runtimes named by a bare name (`runc`, `crun`)
// are looked up on PATH.

import { existsSync, statSync } from 'node:fs';
import { dirname, join, delimiter, isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TsstackError } from '../util/errors.js';

export type NativePart = 'runtime' | 'monitor' | 'dns' | 'init' | 'portd';

let root: string | undefined;

/** The package's directory, found once per process (a run asks for several binaries). */
function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'native'))) return (root = dir);
    dir = dirname(dir);
  }
  return (root = dirname(dirname(dirname(fileURLToPath(import.meta.url)))));
}

/** Absolute path of `tsstack-<part>`; throws a HOST error naming the build step when it is missing. */
export function nativeBinary(part: NativePart): string {
  const dir = process.env.TSSTACK_NATIVE_DIR ?? join(packageRoot(), 'native', 'bin');
  const p = join(dir, `tsstack-${part}`);
  if (!existsSync(p)) {
    throw new TsstackError('HOST', `native binary ${p} is missing`, { hint: 'build it with `npm run build:native` (needs a C compiler)' });
  }
  return p;
}

function onPath(name: string): string | undefined {
  for (const d of (process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)) {
    const p = join(d, name);
    try {
      if (statSync(p).isFile()) return p;
    } catch { /* not here */ }
  }
  return undefined;
}

/** The runtime binary for a name: `tsstack-runtime` (default) → the native one; `runc`/`crun` → PATH; an absolute path as is. */
export function resolveRuntime(name = 'tsstack-runtime'): string {
  if (name === 'tsstack-runtime' || name === 'tsstack') return nativeBinary('runtime');
  if (isAbsolute(name)) {
    if (!existsSync(name)) throw new TsstackError('HOST', `runtime ${name} does not exist`, { hint: 'give an installed OCI runtime: tsstack-runtime, runc or crun' });
    return name;
  }
  const p = onPath(name);
  if (!p) throw new TsstackError('HOST', `runtime "${name}" is not installed (not found on PATH)`, { hint: `install it (apt-get install ${name}) or use the default tsstack-runtime` });
  return p;
}
