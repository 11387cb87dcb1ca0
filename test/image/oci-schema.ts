// The image-spec JSON Schemas from ../shared/conformance, compiled with ajv
// (draft-04) and every `$ref` id mapped to the local files; nothing is fetched.
// Used to check every document tsstack writes.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import type { DocumentKind } from '../../src/engine/image/validate.js';

const require = createRequire(import.meta.url);

export const CONFORMANCE = resolve(process.cwd(), '../shared/conformance/image-spec');
export const haveConformance = (): boolean => existsSync(CONFORMANCE);

const FILES: Record<DocumentKind, string> = {
  manifest: 'image-manifest-schema.json',
  index: 'image-index-schema.json',
  config: 'config-schema.json',
  descriptor: 'content-descriptor.json',
  layout: 'image-layout-schema.json',
};

type Validate = ((doc: unknown) => boolean) & { errors?: unknown };
let compiled: Record<string, Validate> | undefined;

/** Schema validators per document kind (throws when ../shared is absent). */
export function schemaValidators(): Record<DocumentKind, Validate> {
  if (compiled) return compiled as Record<DocumentKind, Validate>;
  const Ajv04 = require('ajv-draft-04');
  const addFormats = require('ajv-formats');
  const ajv = new (Ajv04.default ?? Ajv04)({ strict: false, allErrors: true, validateFormats: true });
  (addFormats.default ?? addFormats)(ajv);
  const dir = join(CONFORMANCE, 'schema');
  // $refs are relative to each schema's id (…/schema/<x> or …/schema/image/<x>): register every
  // file under both base URLs so any relative ref resolves to the local copy.
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) {
    for (const base of ['https://opencontainers.org/schema/', 'https://opencontainers.org/schema/image/']) {
      const s = JSON.parse(readFileSync(join(dir, f), 'utf8'));
      delete s.id;
      stripNestedIds(s);
      ajv.addSchema(s, base + f);
    }
  }
  const out: Record<string, Validate> = {};
  for (const [k, f] of Object.entries(FILES)) out[k] = ajv.getSchema('https://opencontainers.org/schema/image/' + f) as Validate;
  compiled = out;
  return out as Record<DocumentKind, Validate>;
}

function stripNestedIds(v: unknown): void {
  if (Array.isArray(v)) v.forEach(stripNestedIds);
  else if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.id === 'string' && o.id.startsWith('https://')) delete o.id;
    for (const x of Object.values(o)) stripNestedIds(x);
  }
}

/** Schema errors for a document (empty when valid). */
export function schemaErrors(kind: DocumentKind, doc: unknown): string[] {
  const v = schemaValidators()[kind];
  return v(doc) ? [] : [JSON.stringify(v.errors)];
}
