// The precompiled validator must match stack.schema.json, and the schema must compile under ajv.
import { readFileSync } from 'node:fs';
import test from 'ava';
import { GENERATED, generateValidatorSource, schemaPath } from '../../src/stack/schema-codegen.js';

test('schema-validator.generated.ts is up to date with stack.schema.json', (t) => {
  const fresh = generateValidatorSource(readFileSync(schemaPath(), 'utf8'));
  const committed = readFileSync(GENERATED, 'utf8');
  t.true(fresh === committed, `stale ${GENERATED}: run \`npx tsc -p . && node dist/src/stack/schema-codegen.js --write\``);
});

test('stack.schema.json is a draft-07 schema that editors can use', (t) => {
  const schema = JSON.parse(readFileSync(schemaPath(), 'utf8')) as Record<string, unknown>;
  t.is(schema.$schema, 'http://json-schema.org/draft-07/schema#');
  t.truthy((schema.definitions as Record<string, unknown>).service);
});
