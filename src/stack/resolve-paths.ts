// Makes the relative paths of one file's raw data absolute, against the
// directory that file's paths are relative to (the project directory for -f
// files, the file's own directory for `extends: {file}` and `include`), and
// expands short volume syntax so later merges can key volumes by target.
// Runs before merging, because after a merge the origin of a path is lost.
//
// A relative path the loader or the engine reads on the user's behalf (env_file,
// label_file, a secret's or config's file, extends.file, include, a build context,
// a develop.watch path) must stay, links resolved, inside the directory it names
// lexically: `./secret` that is a link to /etc/shadow in a cloned repository is
// refused (the user could not expect it), while `../shared/x` or an absolute path
// is taken as written. Bind sources follow Compose: any host path the user names.

import { realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { TsstackError } from '../util/errors.js';
import { isObj } from './merge.js';
import { parseVolumeShort } from './volumes.js';
import { formatPath, isOverride, lineOf, OVERRIDE_KEY, type ParsedFile } from './yaml-read.js';

/** Applies `f` to a value, or to the value inside an `!override` marker. */
function through(v: unknown, f: (x: unknown) => unknown): unknown {
  return isOverride(v) ? { [OVERRIDE_KEY]: f(v[OVERRIDE_KEY]) } : f(v);
}

type Obj = Record<string, unknown>;

export function resolvePath(base: string, p: string, home: string | undefined): string {
  if (home && (p === '~' || p.startsWith('~/'))) return resolve(home, p.slice(2));
  return isAbsolute(p) ? p : resolve(base, p);
}

const inside = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith(sep) ? dir : dir + sep);

/**
 * Where `raw` (relative to `base`) really leads when links take it out of the directory it names
 * lexically (`base`, or the ancestor a leading `..` climbs to); undefined when it stays, is
 * absolute, or does not exist (reading it reports that).
 */
export function linkEscape(base: string, raw: string): { real: string; dir: string } | undefined {
  if (isAbsolute(raw) || raw === '~' || raw.startsWith('~/')) return undefined;
  const lexical = resolve(base, raw);
  let anchor = resolve(base);
  while (!inside(lexical, anchor)) anchor = dirname(anchor);
  const real = realOf(lexical), realAnchor = realOf(anchor);
  if (real === undefined || realAnchor === undefined) return undefined;
  return inside(real, realAnchor) ? undefined : { real, dir: anchor };
}

/** `p` with the links of its existing part resolved (a missing file under a linked directory still shows where it leads). */
function realOf(p: string): string | undefined {
  for (let rest = ''; ; ) {
    try {
      return rest ? join(realpathSync(p), rest) : realpathSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(p) === p) return undefined;
      rest = rest ? join(basename(p), rest) : basename(p);
      p = dirname(p);
    }
  }
}

/** The SPEC error for a path that links lead out of its directory. */
export function linkEscapeError(raw: string, esc: { real: string; dir: string }, location: { file: string; line?: number; path?: string }, hint = 'a relative path must stay in its directory; write the absolute path if that file is really meant'): TsstackError {
  return new TsstackError('SPEC', `${JSON.stringify(raw)} leads through a symbolic link to ${esc.real}, outside ${esc.dir}`, { location, hint });
}

const isRemote = (s: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(s) || s.startsWith('git@');

/** In place, on `pf.value`. */
export function resolveFilePaths(pf: ParsedFile, base: string, home: string | undefined): void {
  const doc = pf.value;
  if (!isObj(doc)) return;
  const rp = (s: unknown) => (typeof s === 'string' ? resolvePath(base, s, home) : s);
  /** rp for a path read on the user's behalf: refused when links lead it out of its directory. */
  const rpIn = (s: unknown, at: (string | number)[]) => {
    if (typeof s !== 'string') return s;
    const esc = linkEscape(base, s);
    if (esc) throw linkEscapeError(s, esc, { file: pf.file, line: lineOf(pf.lines, at), path: formatPath(at) });
    return rp(s);
  };
  if (isObj(doc.services)) {
    for (const [name, svc] of Object.entries(doc.services)) {
      if (!isObj(svc)) continue;
      svc.build = through(svc.build, (b) => {
        if (typeof b === 'string') return isRemote(b) ? b : rpIn(b, ['services', name, 'build']);
        // An absent context stays absent: it means the project directory, whichever file extends this one.
        if (isObj(b) && typeof b.context === 'string' && !isRemote(b.context)) return { ...b, context: rpIn(b.context, ['services', name, 'build', 'context']) };
        return b;
      });
      if (svc.build === undefined) delete svc.build;
      for (const k of ['env_file', 'label_file']) {
        if (svc[k] === undefined) continue;
        const at = (i?: number) => (i === undefined ? ['services', name, k] : ['services', name, k, i]);
        svc[k] = through(svc[k], (v) => (typeof v === 'string' ? rpIn(v, at()) : Array.isArray(v) ? v.map((e, i) => (isObj(e) ? { ...e, path: rpIn(e.path, at(i)) } : rpIn(e, at(i)))) : v));
      }
      if (svc.volumes !== undefined) {
        svc.volumes = through(svc.volumes, (vols) =>
          !Array.isArray(vols)
            ? vols
            : vols.map((v, i) => {
                let long: Obj;
                if (typeof v === 'string') {
                  try {
                    long = parseVolumeShort(v) as unknown as Obj;
                  } catch (e) {
                    const path = ['services', name, 'volumes', i];
                    throw new TsstackError('SPEC', (e as Error).message, {
                      location: { file: pf.file, line: lineOf(pf.lines, path), path: formatPath(path) },
                      hint: 'write volumes as [source:]target[:ro], e.g. ./data:/data:ro',
                    });
                  }
                } else if (isObj(v)) long = { ...v };
                else return v;
                if (long.type === 'bind' && typeof long.source === 'string' && long.source !== '') long.source = rp(long.source);
                return long;
              }),
        );
      }
      if (isObj(svc.extends) && typeof svc.extends.file === 'string') svc.extends = { ...svc.extends, file: rpIn(svc.extends.file, ['services', name, 'extends', 'file']) };
      if (isObj(svc.develop) && Array.isArray(svc.develop.watch)) {
        svc.develop.watch = svc.develop.watch.map((w, i) => (isObj(w) && typeof w.path === 'string' ? { ...w, path: rpIn(w.path, ['services', name, 'develop', 'watch', i, 'path']) } : w));
      }
    }
  }
  for (const kind of ['secrets', 'configs']) {
    const objs = doc[kind];
    if (!isObj(objs)) continue;
    for (const [k, o] of Object.entries(objs)) if (isObj(o) && typeof o.file === 'string') o.file = rpIn(o.file, [kind, k, 'file']);
  }
}
