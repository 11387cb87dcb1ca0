// Makes the relative paths of one file's raw data absolute, against the
// directory that file's paths are relative to (the project directory for -f
// files, the file's own directory for `extends: {file}` and `include`), and
// expands short volume syntax so later merges can key volumes by target.
// Runs before merging, because after a merge the origin of a path is lost.

import { isAbsolute, resolve } from 'node:path';
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

const isRemote = (s: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(s) || s.startsWith('git@');

/** In place, on `pf.value`. */
export function resolveFilePaths(pf: ParsedFile, base: string, home: string | undefined): void {
  const doc = pf.value;
  if (!isObj(doc)) return;
  const rp = (s: unknown) => (typeof s === 'string' ? resolvePath(base, s, home) : s);
  if (isObj(doc.services)) {
    for (const [name, svc] of Object.entries(doc.services)) {
      if (!isObj(svc)) continue;
      svc.build = through(svc.build, (b) => {
        if (typeof b === 'string') return isRemote(b) ? b : rp(b);
        // An absent context stays absent: it means the project directory, whichever file extends this one.
        if (isObj(b) && typeof b.context === 'string' && !isRemote(b.context)) return { ...b, context: rp(b.context) };
        return b;
      });
      if (svc.build === undefined) delete svc.build;
      for (const k of ['env_file', 'label_file']) {
        if (svc[k] === undefined) continue;
        svc[k] = through(svc[k], (v) => (typeof v === 'string' ? rp(v) : Array.isArray(v) ? v.map((e) => (isObj(e) ? { ...e, path: rp(e.path) } : rp(e))) : v));
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
      if (isObj(svc.extends) && typeof svc.extends.file === 'string') svc.extends = { ...svc.extends, file: rp(svc.extends.file) };
      if (isObj(svc.develop) && Array.isArray(svc.develop.watch)) {
        svc.develop.watch = svc.develop.watch.map((w) => (isObj(w) && typeof w.path === 'string' ? { ...w, path: rp(w.path) } : w));
      }
    }
  }
  for (const kind of ['secrets', 'configs']) {
    const objs = doc[kind];
    if (!isObj(objs)) continue;
    for (const o of Object.values(objs)) if (isObj(o) && typeof o.file === 'string') o.file = rp(o.file);
  }
}
