// The one rule for project names, shared by the loader (stack/load.ts) and the
// CLI's quick name (cli/context.ts, which must not load the loader to know it):
// where a name comes from, and how it is normalized.

/** Lower-case, only `[a-z0-9_-]`, starting with a letter or digit — as Compose normalizes names. */
export function normalizeProjectName(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9_-]/g, '').replace(/^[^a-z0-9]+/, '');
}

/** What a project's name may come from; `lookup` reads variables (the environment, then `.env` for the loader). */
export interface ProjectNameSources {
  /** -p / --project-name. */
  option?: string;
  lookup: (name: string) => string | undefined;
  /** The stack file's `name:`, interpolated. */
  fileName?: string;
  /** The project directory: its base name is the last resort. */
  projectDir?: string;
}

/**
 * Compose's order: -p, TSSTACK_PROJECT_NAME, COMPOSE_PROJECT_NAME, the file's `name:`, the
 * project directory's name. `raw` as found, `name` normalized (may be empty: the caller says
 * why that is wrong); undefined when none of the sources given has one.
 */
export function projectNameFrom(s: ProjectNameSources): { raw: string; name: string } | undefined {
  const dirName = s.projectDir === undefined ? undefined : s.projectDir.replace(/\/+$/, '').split('/').pop() ?? '';
  const raw = s.option ?? s.lookup('TSSTACK_PROJECT_NAME') ?? s.lookup('COMPOSE_PROJECT_NAME') ?? s.fileName ?? dirName;
  return raw === undefined ? undefined : { raw, name: normalizeProjectName(raw) };
}
