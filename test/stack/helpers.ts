// A temporary project directory with the given files, removed after the test.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ExecutionContext } from 'ava';

export function project(t: ExecutionContext, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-spec-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true });
    if (existsSync(dir)) throw new Error(`temp dir ${dir} left behind`);
  });
  return dir;
}

/** Asserts that loading `yaml` fails with a TsstackError matching `msg` located at `line`. */
export async function refusedAt(t: ExecutionContext, yaml: string, line: number, msg: RegExp): Promise<void> {
  const { loadStack } = await import('../../src/stack/load.js');
  const { isTsstackError } = await import('../../src/util/errors.js');
  const dir = project(t, { 'compose.yaml': yaml });
  const e = await t.throwsAsync(loadStack({ projectDir: dir, env: {} }));
  t.true(isTsstackError(e));
  t.regex(e!.message, msg);
  t.is((e as unknown as { location?: { line?: number } }).location?.line, line, e!.message);
}
