// The one rule for project names, shared by the loader (stack/load.ts) and the
// CLI's quick name (cli/context.ts, which must not load the loader to know it).

/** Lower-case, only `[a-z0-9_-]`, starting with a letter or digit — as Compose normalizes names. */
export function normalizeProjectName(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9_-]/g, '').replace(/^[^a-z0-9]+/, '');
}
