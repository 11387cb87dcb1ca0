// Which of the package's modules a CLI command imports: the structure its start-up time rests
// on (a command loads what it uses), checked without timing anything.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tsstackProc, type ProcRun } from './cli-process.js';

const REGISTER = new URL('./module-log-register.js', import.meta.url).href;
const PACKAGE = new URL('../../../', import.meta.url).href;

/** Runs `tsstack ARGS…` as a process; its result and the modules it imported, as paths below the package (`dist/src/…`, `node_modules/…`). */
export async function withLoadedModules(env: Record<string, string | undefined>, args: string[], cwd?: string): Promise<ProcRun & { modules: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-modules-'));
  try {
    const log = join(dir, 'log');
    const r = await tsstackProc({ ...env, TSSTACK_TEST_MODULE_LOG: log }, args, { cwd, nodeArgs: ['--import', REGISTER] });
    let lines: string[] = [];
    try { lines = readFileSync(log, 'utf8').split('\n'); } catch { /* nothing imported */ }
    const modules = [...new Set(lines.filter((u) => u.startsWith(PACKAGE)).map((u) => u.slice(PACKAGE.length)))].sort();
    return { ...r, modules };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
