// Validation of the merged, interpolated stack against stack.schema.json, with
// the validator precompiled by schema-codegen.ts (no ajv at run time). Errors are reported compose-style
// (`services.web.image must be a string`) with the file and line of the key.

import { readFileSync } from 'node:fs';
import { TsstackError } from '../util/errors.js';
import { schemaPath } from './schema-codegen.js';
import { validate as generated } from './schema-validator.generated.js';
import { formatPath } from './yaml-read.js';

interface AjvError {
  instancePath: string;
  schemaPath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}
type ValidateFn = ((data: unknown) => boolean) & { errors?: AjvError[] | null };
const validator = generated as unknown as ValidateFn;

/**
 * The `description` of the schema node an error points at (read only on the error path).
 * With refs kept out of line, ajv's schemaPath is relative to the definition that holds
 * it, so the pointer is tried against the root and every definition.
 */
function schemaDescription(pointer: string): string | undefined {
  const root = JSON.parse(readFileSync(schemaPath(), 'utf8')) as { definitions?: Record<string, unknown> };
  const segs = pointer.replace(/^#\//, '').split('/').map((seg) => decodeURIComponent(seg).replace(/~1/g, '/').replace(/~0/g, '~'));
  for (const base of [root, ...Object.values(root.definitions ?? {})]) {
    let node: unknown = base;
    for (const seg of segs) node = (node as Record<string, unknown> | undefined)?.[seg];
    const d = (node as { description?: string } | undefined)?.description;
    if (d) return d;
  }
  return undefined;
}

function segments(instancePath: string): (string | number)[] {
  if (instancePath === '') return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

const TYPE_WORDS: Record<string, string> = { integer: 'integer', number: 'number', string: 'string', boolean: 'boolean', null: 'null', object: 'mapping', array: 'array' };

function describe(errs: AjvError[]): string {
  const e = errs[0]!;
  const where = formatPath(segments(e.instancePath)) || 'top level';
  switch (e.keyword) {
    case 'additionalProperties':
      return `${where} additional properties '${String(e.params.additionalProperty)}' not allowed`;
    case 'required':
      return `${where} missing property '${String(e.params.missingProperty)}'`;
    case 'enum':
      return `${where} must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'type': {
      const types = new Set<string>();
      for (const x of errs) if (x.keyword === 'type' && x.instancePath === e.instancePath) for (const t of ([] as string[]).concat(x.params.type as string)) types.add(TYPE_WORDS[t] ?? t);
      const list = [...types].sort();
      const words = list.length > 1 ? `${list.slice(0, -1).join(', ')} or ${list[list.length - 1]}` : list[0];
      const article = /^[aeiou]/.test(words ?? '') ? 'an' : 'a';
      return `${where} must be ${article} ${words}`;
    }
    case 'minimum':
      return `${where} must be greater than or equal to ${String(e.params.limit)}`;
    case 'maximum':
      return `${where} must be less than or equal to ${String(e.params.limit)}`;
    case 'not':
      return `${where}: ${schemaDescription(e.schemaPath) ?? 'is not allowed'}`;
    case 'pattern':
      return `${where} does not match ${String(e.params.pattern)}`;
    default:
      return `${where} ${e.message ?? 'is invalid'}`;
  }
}

const KEYWORD_RANK: Record<string, number> = { additionalProperties: 0, required: 1, enum: 2, minimum: 2, maximum: 2, pattern: 3, type: 4, oneOf: 9 };

/** Throws TsstackError('SPEC') when `doc` does not match the schema. */
export function validateDocument(doc: unknown, locate: (path: (string | number)[]) => { file: string; line?: number }): void {
  if (validator(doc)) return;
  const errs = (validator.errors ?? []).slice();
  // The most specific error first: deepest path, then the most telling keyword.
  errs.sort((a, b) => segments(b.instancePath).length - segments(a.instancePath).length || (KEYWORD_RANK[a.keyword] ?? 5) - (KEYWORD_RANK[b.keyword] ?? 5));
  const best = errs.filter((e) => e.instancePath === errs[0]!.instancePath && e.keyword === errs[0]!.keyword);
  let path = segments(best[0]!.instancePath);
  if (best[0]!.keyword === 'additionalProperties') path = [...path, String(best[0]!.params.additionalProperty)];
  const { file, line } = locate(path);
  const msg = describe(best.length > 0 ? [...best, ...errs.filter((e) => e.instancePath === best[0]!.instancePath && e.keyword === 'type')] : errs);
  throw new TsstackError('SPEC', msg, {
    location: { file, line, path: formatPath(path) },
    hint: 'see stack.schema.json for the keys and types a stack file may use',
  });
}
