// `tsstack deploy --to swarm`: not written yet (issue 17).
import { TsstackError } from '../../util/errors.js';
import type { Context } from '../../cli/context.js';
import type { DeployFlags } from '../../cli/commands/deploy.js';

export async function deploySwarm(_ctx: Context, _flags: DeployFlags): Promise<number> {
  throw new TsstackError('USAGE', 'deploy --to swarm is not supported yet', { hint: 'tsstack render kubernetes writes manifests today' });
}
