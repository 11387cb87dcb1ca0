// Host devices named by `devices:` must exist before `up` changes anything:
// each missing (or non-device) one is a problem naming the service, the file
// and line of its entry.

import { statSync } from 'node:fs';
import type { StackModel } from '../model/types.js';
import { problem, type Problem } from './plan.js';

/** Problems with the host devices of `services` (stat'ed now; symlinks followed), as text. */
export function deviceProblems(model: StackModel, services: string[]): string[] {
  return deviceChecks(model, services).map((p) => p.message);
}

/** The same, typed: a device that is not there is `missing`, anything else about it `invalid`. */
export function deviceChecks(model: StackModel, services: string[]): Problem[] {
  const out: Problem[] = [];
  for (const name of services) {
    (model.services[name]?.devices ?? []).forEach((d, i) => {
      const path = `services.${name}.devices[${i}]`;
      const loc = model.lines?.[path];
      const where = loc ? ` (${loc.file}${loc.line !== undefined ? `:${loc.line}` : ''})` : '';
      let why: string | undefined;
      let kind: Problem['kind'] = 'invalid';
      try {
        const st = statSync(d.source);
        if (!st.isCharacterDevice() && !st.isBlockDevice()) why = 'is not a device node';
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') kind = 'missing';
        why = code === 'ENOENT' ? 'does not exist on this host' : `cannot be read (${code})`;
      }
      if (why) out.push(problem(kind, `service "${name}": devices[${i}]: host device ${d.source} ${why}${where}`));
    });
  }
  return out;
}
