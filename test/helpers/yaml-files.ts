// Every .yaml/.yml file below a directory, in a stable order (path by path, sorted),
// for the tests that run over the conformance stacks.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

export function yamlFilesBelow(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...yamlFilesBelow(p));
    else if (/\.ya?ml$/.test(e.name)) out.push(p);
  }
  return out;
}
