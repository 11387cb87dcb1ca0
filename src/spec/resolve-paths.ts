// Makes the relative paths of one file's raw data absolute, against the
// directory that file's paths are relative to (the project directory for -f
// files, the file's own directory for `extends: {file}` and `include`), and
// expands short volume syntax so later merges can key volumes by target.
// Runs before merging, because after a merge the origin of a path is lost.

import { isAbsolute, resolve } from 'node:path';
import { TsstackError } from '../util/errors.js';
import { isObj } from './merge.js';
import { parseVolumeShort } from './volumes.js';
import { formatPath, lineOf, type ParsedFile } from './yaml-read.js';

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
      if (typeof svc.build === 'string') svc.build = isRemote(svc.build) ? svc.build : rp(svc.build);
      else if (isObj(svc.build)) {
        const ctx = svc.build.context ?? '.';
        if (typeof ctx === 'string' && !isRemote(ctx)) svc.build.context = rp(ctx);
      }
      for (const k of ['env_file', 'label_file']) {
        const v = svc[k];
        if (typeof v === 'string') svc[k] = rp(v);
        else if (Array.isArray(v)) svc[k] = v.map((e) => (isObj(e) ? { ...e, path: rp(e.path) } : rp(e)));
      }
      if (Array.isArray(svc.volumes)) {
        svc.volumes = svc.volumes.map((v, i) => {
          let long: Obj;
          if (typeof v === 'string') {
            try {
              long = parseVolumeShort(v) as unknown as Obj;
            } catch (e) {
              const path = ['services', name, 'volumes', i];
              const line = lineOf(pf.lines, path);
              throw new TsstackError('SPEC', (e as Error).message, {
                location: { file: pf.file, line, path: formatPath(path) },
                hint: 'write volumes as [source:]target[:ro], e.g. ./data:/data:ro',
              });
            }
          } else if (isObj(v)) long = { ...v };
          else return v;
          if (long.type === 'bind' && typeof long.source === 'string' && long.source !== '') long.source = rp(long.source);
          return long;
        });
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
