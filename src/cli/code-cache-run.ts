// What bin/code-cache.cjs asks of a run before it writes the run's V8 code cache: whether the run
// parsed a stack file (not the model cache) and whether it used the engine. A cache written by a run
// that used the engine without parsing (a steady run) holds what later runs need and no more; see
// KINDS in bin/code-cache.cjs. A global, because bin/ and the bundle are two separate scripts.

export interface CodeCacheRun {
  parsed?: boolean;
  engine?: boolean;
}

export function codeCacheRun(): CodeCacheRun {
  const g = globalThis as { [k: symbol]: CodeCacheRun | undefined };
  return (g[Symbol.for('tsstack.codeCacheRun')] ??= {});
}
