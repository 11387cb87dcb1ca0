// Validators for the OCI runtime-spec schemas in ../shared/conformance
// (draft-04; every "$ref" resolved from the local files, nothing fetched).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Ajv04 from 'ajv-draft-04';
import addFormats from 'ajv-formats';

export const SCHEMA_DIR = resolve(process.cwd(), '../shared/conformance/runtime-spec/schema');
export const haveSchemas = existsSync(join(SCHEMA_DIR, 'config-schema.json'));

type Validate = (doc: unknown) => { ok: boolean; errors: string };

function load(): { config: Validate; state: Validate; features: Validate } {
  const ajv = new (Ajv04 as unknown as typeof Ajv04.default)({ strict: false, allErrors: true });
  (addFormats as unknown as typeof addFormats.default)(ajv as never);
  for (const f of readdirSync(SCHEMA_DIR).filter((n) => n.endsWith('.json'))) {
    if (f === 'config-schema.json' || f === 'state-schema.json' || f === 'features-schema.json') continue;
    ajv.addSchema(JSON.parse(readFileSync(join(SCHEMA_DIR, f), 'utf8')), f);
  }
  const compile = (file: string): Validate => {
    const schema = { ...JSON.parse(readFileSync(join(SCHEMA_DIR, file), 'utf8')), id: file };
    const v = ajv.compile(schema);
    return (doc) => ({ ok: v(doc) as boolean, errors: ajv.errorsText(v.errors) });
  };
  return { config: compile('config-schema.json'), state: compile('state-schema.json'), features: compile('features-schema.json') };
}

let cached: { config: Validate; state: Validate; features: Validate } | undefined;
export function validators(): { config: Validate; state: Validate; features: Validate } {
  return (cached ??= load());
}
