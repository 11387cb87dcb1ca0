// Paths inside the container that a stack file names: volume and tmpfs targets,
// `working_dir`, secret and config targets. Each must be absolute (a secret's or
// config's may be a bare name: it goes under /run/secrets or /) and must not
// climb with `..`: Docker refuses a relative mount target and a relative
// working_dir, and a `..` only hides where a file really lands. The runtime
// still resolves every target inside the container's root; this is about saying
// no early, with the file and line, before anything is made.
// Also the owner and mode of a secret's or config's copy: numeric ids, and
// permission bits only (a set-uid copy would be a set-uid file on the host too).

import { posix } from 'node:path';
import type { StackModel } from '../model/types.js';
import type { TsstackError } from '../util/errors.js';
import type { Ctx } from './normalize.js';

type Path = (string | number)[];

/** Why `p` is not a good path in the container, or undefined. */
export function containerPathProblem(p: string, mayBeRelative = false): string | undefined {
  if (p.includes('\0')) return 'contains a NUL byte';
  if (!mayBeRelative && !p.startsWith('/')) return 'must be an absolute path in the container';
  if (p.split('/').includes('..')) return 'must not contain ".." (write the path it stands for)';
  return undefined;
}

/** Throws the first bad container path of the model, located at its key. */
export function checkContainerPaths(ctx: Ctx, model: StackModel): void {
  const bad = (path: Path, what: string, value: string, relative = false): TsstackError | undefined => {
    const why = containerPathProblem(value, relative);
    if (!why) return undefined;
    const hint = relative ? 'write an absolute path, e.g. /run/secrets/db, or a bare name' : `write the absolute path, e.g. ${posix.resolve('/', value)}`;
    return ctx.error(path, `${what} ${JSON.stringify(value)} ${why}`, hint);
  };
  for (const [name, s] of Object.entries(model.services)) {
    const at = (...k: (string | number)[]): Path => ['services', name, ...k];
    const problems: (TsstackError | undefined)[] = [];
    (s.volumes ?? []).forEach((v, i) => {
      problems.push(bad(at('volumes', i), 'volume target', v.target));
      // a path inside the volume's data on the host: relative and below it (as Docker)
      const sub = v.type === 'volume' ? v.volume?.subpath : undefined;
      if (sub !== undefined && (sub.startsWith('/') || sub.split('/').includes('..'))) problems.push(ctx.error(at('volumes', i, 'volume', 'subpath'), `volume subpath ${JSON.stringify(sub)} must be a relative path inside the volume`, 'write it without a leading / and without ".."'));
    });
    (s.tmpfs ?? []).forEach((t, i) => problems.push(bad(at('tmpfs', i), 'tmpfs target', t.target)));
    if (s.working_dir !== undefined && s.working_dir !== '') problems.push(bad(at('working_dir'), 'working_dir', s.working_dir));
    for (const kind of ['secrets', 'configs'] as const) {
      (s[kind] ?? []).forEach((r, i) => {
        if (r.target !== undefined) problems.push(bad(at(kind, i, 'target'), `${kind.slice(0, -1)} target`, r.target, true));
        // without a target the name is the file's name under /run/secrets (or /): `..` would land elsewhere
        else if (r.source === '.' || r.source === '..') problems.push(ctx.error(at(kind, i), `${kind.slice(0, -1)} ${JSON.stringify(r.source)} needs a target: its name is not a file name`, 'add target: with the path in the container'));
        for (const k of ['uid', 'gid'] as const) {
          const v = r[k];
          if (v !== undefined && !/^\d{1,10}$/.test(v)) problems.push(ctx.error(at(kind, i, k), `${kind.slice(0, -1)} ${k} ${JSON.stringify(v)} must be a number`, `write the numeric ${k} the container's process runs with, e.g. ${k}: "1000"`));
        }
        if (r.mode !== undefined && (r.mode < 0 || r.mode > 0o777)) problems.push(ctx.error(at(kind, i, 'mode'), `${kind.slice(0, -1)} mode 0${r.mode.toString(8)} is not a permission mode`, 'use read/write/execute bits only, e.g. 0440 (no set-uid, set-gid or sticky bit)'));
      });
    }
    const first = problems.find((e) => e);
    if (first) throw first;
  }
}
