// `tsstack render kubernetes [-o DIR] [--namespace NS] [--strict]`: loads the
// stack, renders it (deploy/kubernetes, pure) and writes one YAML stream to
// stdout or one file per object into DIR. Warnings go to stderr, one line
// each with file and line; --strict makes them an error (exit 2).

import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TsstackError } from '../../util/errors.js';
import type { StackModel } from '../../model/types.js';
import type { Context } from '../context.js';
import { lineOf, parseYaml, pathKey, type ParsedFile } from '../../stack/yaml-read.js';
import { formatWarning, objectFileName, objectYaml, renderKubernetes, yamlStream, type K8sObject } from '../../deploy/kubernetes/render.js';

export interface RenderFlags {
  output?: string;
  namespace?: string;
  strict?: boolean;
}

/** First line of every file -o writes: how a later render knows which files are its own to replace. */
const HEADER = '# rendered by tsstack render kubernetes';

/** Finds a stack key's file and line by reading the stack files again (the model keeps lines for a few keys only). */
export function locator(model: StackModel): (path: readonly (string | number)[]) => { file?: string; line?: number } {
  const files: ParsedFile[] = [];
  for (const f of model.sourceFiles) {
    if (!/\.ya?ml$/i.test(f)) continue;
    try {
      files.push(parseYaml(f, readFileSync(f, 'utf8')));
    } catch { /* not readable now: its keys get no line */ }
  }
  files.reverse(); // later files override earlier ones
  return (path) => {
    for (const pf of files) {
      const l = pf.lines.get(pathKey(path));
      if (l !== undefined) return { file: pf.file, line: l };
    }
    for (const pf of files) {
      const l = lineOf(pf.lines, path);
      if (l !== undefined && l > 0) return { file: pf.file, line: l };
    }
    return files.length ? { file: files[files.length - 1]!.file } : {};
  };
}

export function checkNamespaceName(ns: string | undefined): void {
  if (ns !== undefined && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(ns)) {
    throw new TsstackError('USAGE', `--namespace ${JSON.stringify(ns)} is not a Kubernetes namespace name`, { hint: 'lower-case letters, digits and -, at most 63' });
  }
}

/** The stack's objects for the cluster, its warnings printed (or, under --strict, one error, exit 2): shared by render and deploy. */
export function renderForCli(ctx: Context, model: StackModel, flags: { namespace?: string; strict?: boolean }): K8sObject[] {
  const readFile = (p: string) => {
    try {
      return readFileSync(p);
    } catch {
      return undefined;
    }
  };
  const { objects, warnings } = renderKubernetes(model, { namespace: flags.namespace, readFile, locate: locator(model) });
  if (flags.strict && warnings.length) {
    throw new TsstackError('SPEC', `${warnings.length} stack key${warnings.length === 1 ? ' has' : 's have'} no faithful Kubernetes form (--strict)`, {
      details: warnings.map(formatWarning),
      hint: 'change or remove these keys, or run without --strict to accept the differences',
    });
  }
  // the loader's own warnings (about tsstack, not Kubernetes: --strict leaves them warnings), then the render's
  for (const w of model.warnings) ctx.io.err(`warning: ${w.file}${w.line ? `:${w.line}` : ''}: ${w.path}: ${w.message}`);
  for (const w of warnings) ctx.io.err(`warning: ${formatWarning(w)}`);
  return objects;
}

export async function runRender(ctx: Context, target: string, flags: RenderFlags): Promise<number> {
  if (target !== 'kubernetes') throw new TsstackError('USAGE', `cannot render for ${JSON.stringify(target)}`, { hint: 'tsstack render kubernetes' });
  checkNamespaceName(flags.namespace);
  const model = await ctx.loadModel();
  const objects = renderForCli(ctx, model, flags);
  if (flags.output === undefined) {
    ctx.io.out(yamlStream(objects).replace(/\n$/, ''));
    return 0;
  }
  const dir = resolve(ctx.io.cwd, flags.output);
  mkdirSync(dir, { recursive: true });
  // Files of an earlier render whose object is gone would be applied again by `kubectl apply -f DIR`: remove them (only ours).
  const keep = new Set(objects.map(objectFileName));
  for (const f of readdirSync(dir)) {
    if (keep.has(f) || !f.endsWith('.yaml')) continue;
    let head = '';
    try {
      head = readFileSync(join(dir, f), 'utf8').slice(0, HEADER.length);
    } catch { /* not a file we can read: not ours */ }
    if (head === HEADER) rmSync(join(dir, f));
  }
  // Written beside and renamed over: a link planted at a file's name is replaced, never followed (O_EXCL on the temporary).
  for (const o of objects) {
    const final = join(dir, objectFileName(o));
    const tmp = join(dir, `.${objectFileName(o)}.${process.pid}.tmp`);
    try {
      writeFileSync(tmp, `${HEADER}\n${objectYaml(o)}`, { flag: 'wx', mode: 0o644 });
      renameSync(tmp, final);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw new TsstackError('HOST', `cannot write ${final}: ${(e as Error).message}`, { hint: 'choose a directory you can write' });
    }
  }
  ctx.io.err(`wrote ${objects.length} object${objects.length === 1 ? '' : 's'} to ${dir}`);
  return 0;
}
