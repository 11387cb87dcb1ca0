// `tsstack config --explain [KEY|VAR]`: where each interpolated value came from.
// The loader records, when asked, every definition of a variable it read (the
// shell's environment, each env file's line) and every value it interpolated
// (file, line, key, template, result, variables used); rendering is pure.

export interface Definition {
  /** `shell`, or the env file (`.env`, `--env-file`, an include's env_file). */
  source: 'shell' | 'env file';
  file?: string;
  line?: number;
  value: string;
}

export interface Use {
  file: string;
  line?: number;
  path: string;
  template: string;
  result: string;
  names: string[];
}

/** Filled by the loader (LoadOptions.provenance); read by renderExplain. */
export class Provenance {
  /** Env-file definitions per name, in the order read (a later one replaces an earlier one). */
  private readonly files = new Map<string, Definition[]>();
  readonly uses: Use[] = [];
  constructor(private readonly shell: ReadonlyMap<string, string>) {}

  fromFile(name: string, file: string, line: number, value: string): void {
    const list = this.files.get(name) ?? [];
    list.push({ source: 'env file', file, line, value });
    this.files.set(name, list);
  }

  /** Every definition of `name`, the one in effect first (the shell wins over env files; a later file over an earlier one). */
  definitions(name: string): Definition[] {
    const out: Definition[] = [];
    const sh = this.shell.get(name);
    if (sh !== undefined) out.push({ source: 'shell', value: sh });
    out.push(...[...(this.files.get(name) ?? [])].reverse());
    return out;
  }

  /** Names defined in env files (the shell's whole environment is not listed, only what a value used). */
  fileNames(): string[] {
    return [...this.files.keys()];
  }
}

const where = (d: Definition) => (d.source === 'shell' ? 'the shell' : `${d.file}${d.line ? `:${d.line}` : ''}`);

function describe(p: Provenance, name: string): string {
  const defs = p.definitions(name);
  if (!defs.length) return `${name}: not set (the file's default, or "", applies)`;
  const [winner, ...rest] = defs;
  const over = rest.length ? `; overrides ${rest.map((d) => `${where(d)} (${JSON.stringify(d.value)})`).join(', ')}` : '';
  return `${name} = ${JSON.stringify(winner!.value)} from ${where(winner!)}${over}`;
}

/** Settings tsstack itself reads from variables (Compose's names and tsstack's own). */
const SETTINGS = /^(COMPOSE|TSSTACK)_/;

/**
 * The report: settings (COMPOSE_* / TSSTACK_*) with their origin, then each interpolated value with the
 * variables it used. `filter` keeps a variable's definitions and uses (exact name), or the values under a
 * key path (`services.web`, `services.web.image`).
 */
export function renderExplain(p: Provenance, filter?: string): string {
  const isVar = filter !== undefined && p.uses.some((u) => u.names.includes(filter)) || (filter !== undefined && p.definitions(filter).length > 0);
  const keep = (u: Use) => filter === undefined || (isVar ? u.names.includes(filter) : u.path === filter || u.path.startsWith(`${filter}.`) || u.path.startsWith(`${filter}[`));
  const lines: string[] = [];
  const settings = [...new Set([...p.fileNames(), ...p.uses.flatMap((u) => u.names)])].filter((n) => SETTINGS.test(n) && (!isVar || n === filter)).sort();
  const settingDefs = settings.filter((n) => p.definitions(n).length);
  if (settingDefs.length && (filter === undefined || isVar)) {
    lines.push('settings:');
    for (const n of settingDefs) lines.push(`  ${describe(p, n)}`);
  }
  if (isVar && !settingDefs.includes(filter!)) lines.push(`variable: ${describe(p, filter!)}`);
  const uses = p.uses.filter(keep).sort((a, b) => (a.file === b.file ? (a.line ?? 0) - (b.line ?? 0) : a.file < b.file ? -1 : 1));
  if (uses.length) lines.push('values:');
  for (const u of uses) {
    lines.push(`  ${u.file}${u.line ? `:${u.line}` : ''} ${u.path} = ${JSON.stringify(u.result)} (written ${JSON.stringify(u.template)})`);
    for (const n of [...new Set(u.names)]) lines.push(`    ${describe(p, n)}`);
  }
  if (!lines.length) lines.push(filter === undefined ? 'nothing in the stack is interpolated' : `no interpolated value or variable matches ${JSON.stringify(filter)}`);
  return lines.join('\n') + '\n';
}
