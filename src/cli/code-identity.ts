// Which files stand for tsstack's own code in the keys of its caches (model-cache.ts,
// converged.ts: a rebuild must be a miss). Run from the bundle (bin/code-cache.cjs), the
// code that runs is that one file, so its stamp is the whole answer: one stat instead of
// listing and stating each module of dist/src (~130 stats, 2–4 ms of a no-op `up`).

// Defined (as true) by scripts/build-cli.mjs in the bundle only; `__filename` is then the
// bundle's path (bin/code-cache.cjs runs it with CommonJS's arguments).
declare const __TSSTACK_BUNDLE__: boolean | undefined;
declare const __filename: string;

/** The bundle this code runs from, or undefined when it runs as the modules of dist/src. */
export const BUNDLE_FILE: string | undefined = typeof __TSSTACK_BUNDLE__ !== 'undefined' && __TSSTACK_BUNDLE__ ? __filename : undefined;
