// koffi (the FFI), loaded on first use by the modules that need it only sometimes
// (an unmount, an xattr, openat2): one way that costs nothing at start-up in both
// forms tsstack runs in. The bundle (dist/cli/tsstack.cjs, scripts/build-cli.mjs) runs
// with CommonJS's `require`, and the literal require('koffi') below is what lets the
// build load koffi's native module directly and share one instance with the modules
// that import it; the ES modules of dist/src make a require with createRequire, from
// node:module, which their own loader has loaded already. (createRequire in the
// bundle would load node:module and Node's ES module loader: ~4 ms.)
import type KoffiModule from 'koffi';

export type Koffi = typeof KoffiModule;

let loaded: Koffi | undefined;

export function koffi(): Koffi {
  if (loaded) return loaded;
  if (typeof require === 'function') return (loaded = require('koffi') as Koffi);
  const { createRequire } = process.getBuiltinModule('node:module');
  return (loaded = createRequire(import.meta.url)('koffi') as Koffi);
}
