// Runs main() with captured output, a fake engine and a literal model.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/context.js';
import type { StdinKind } from '../../src/util/stdin-kind.js';
import type { StackModel } from '../../src/model/types.js';
import { FakeEngine } from '../fakes/engine.js';

export interface Run {
  code: number;
  out: string;
  err: string;
}

/** `teardown` (ava's t.teardown) removes the temporary root even when the test fails. */
export function harness(model?: StackModel | (() => StackModel), engine = new FakeEngine(), teardown?: (f: () => void) => void) {
  const root = mkdtempSync(join(tmpdir(), 'tsstack-cli-'));
  teardown?.(() => rmSync(root, { recursive: true, force: true }));
  /** What the commands see as their standard input (Io.stdin); none unless a test says otherwise. */
  const h = { stdin: 'none' as StdinKind };
  const run = async (...argv: string[]): Promise<Run> => {
    const out: string[] = [];
    const err: string[] = [];
    const io: Io = {
      out: (s) => out.push(s.replace(/\n$/, '')),
      err: (s) => err.push(s.replace(/\n$/, '')),
      tty: false,
      stdin: () => h.stdin,
      env: { TSSTACK_ROOT: root, TSSTACK_RUN_ROOT: join(root, 'run') },
      cwd: root,
      openEngine: async () => engine,
      loadStack: async () => {
        if (!model) throw new Error('no model in this test');
        return typeof model === 'function' ? model() : model;
      },
    };
    const code = await main(['-f', 'stack.yaml', ...argv], io);
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  return Object.assign(h, { run, engine, root });
}
