// `tsstack deploy --to kubernetes`: not written yet (issue 18).
import { TsstackError } from '../../util/errors.js';
import type { Context } from '../../cli/context.js';
import type { DeployFlags } from '../../cli/commands/deploy.js';

export async function deployKubernetes(_ctx: Context, _flags: DeployFlags): Promise<number> {
  throw new TsstackError('USAGE', 'deploy --to kubernetes is not supported yet', { hint: 'tsstack render kubernetes writes manifests today' });
}
