// What every command holding a project's lock does first (engine/recovery.ts): finish or undo what a
// killed command of the project left half made. What cannot be cleaned now is a warning, retried next time.

import type { Engine } from '../engine/api.js';
import type { Context } from './context.js';

export async function recoverFirst(ctx: Context, engine: Engine, project: string): Promise<void> {
  for (const p of (await engine.recover(project)).problems) ctx.io.err(`warning: cleaning up after an interrupted command: ${p}`);
}
