// Precompiles stack.schema.json into a standalone validator module
// (schema-validator.generated.ts), so loading a stack does not pay for ajv's
// schema compilation (~0.1–0.8 s) on every command. Regenerate after editing
// the schema:   node dist/src/stack/schema-codegen.js --write
// test/stack/schema-codegen.test.ts fails when the generated file is stale.

import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** stack.schema.json at the repo root (two or three levels above this module, from src/ or dist/src/). */
export function schemaPath(): string {
  const require = createRequire(import.meta.url);
  for (const rel of ['../../stack.schema.json', '../../../stack.schema.json']) {
    try {
      return require.resolve(fileURLToPath(new URL(rel, import.meta.url)));
    } catch {
      /* next */
    }
  }
  throw new Error('stack.schema.json not found');
}

export const GENERATED = 'src/stack/schema-validator.generated.ts';

export function generateValidatorSource(schemaText: string): string {
  const require = createRequire(import.meta.url);
  const Ajv = (require('ajv') as { default: new (o: object) => { compile(s: object): unknown } }).default;
  const standalone = (require('ajv/dist/standalone') as { default: (ajv: unknown, v: unknown) => string }).default;
  const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true, inlineRefs: false, code: { source: true, esm: true, lines: false } });
  const code = standalone(ajv, ajv.compile(JSON.parse(schemaText) as object)).replace(/^"use strict";/, '');
  return [
    '// @ts-nocheck',
    '// GENERATED from stack.schema.json by src/stack/schema-codegen.ts — do not edit.',
    '// Regenerate: npx tsc -p . && node dist/src/stack/schema-codegen.js --write',
    code,
    '',
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.argv.includes('--write')) {
  const root = fileURLToPath(new URL('.', new URL(`file://${schemaPath()}`)));
  writeFileSync(`${root}${GENERATED}`, generateValidatorSource(readFileSync(schemaPath(), 'utf8')));
  console.log(`wrote ${root}${GENERATED}`);
}
