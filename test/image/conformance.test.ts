// The image-spec conformance material: our reader's validator must agree with the
// upstream validator (schemas + Go checks) on all 67 rows and the spec examples.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkDocumentText, kindOfMediaType, type DocumentKind } from '../../src/engine/image/validate.js';
import { CONFORMANCE, haveConformance, schemaValidators } from './oci-schema.js';
import { skipWhen } from '../helpers/skip.js';

interface Row { source: string; index?: number; title?: string; mediaType: string; comment?: string; expect: 'valid' | 'invalid'; document: string }

function load(file: string, key: string): Row[] {
  return JSON.parse(readFileSync(join(CONFORMANCE, 'cases', file), 'utf8'))[key] as Row[];
}

skipWhen(!haveConformance(), '../shared absent')('schema-test-cases: tsstack validator agrees with upstream on every row', (t) => {
  const rows = load('schema-test-cases.json', 'cases');
  const wrong: string[] = [];
  for (const r of rows) {
    const kind = kindOfMediaType(r.mediaType);
    if (!kind) { wrong.push(`${r.source}#${r.index}: unknown media type ${r.mediaType}`); continue; }
    const errs = checkDocumentText(kind, r.document);
    const got = errs.length === 0 ? 'valid' : 'invalid';
    if (got !== r.expect) wrong.push(`${r.source}#${r.index} (${r.comment}): expected ${r.expect}, got ${got} ${errs.join('; ')}`);
  }
  t.log(`${rows.length - wrong.length} of ${rows.length} rows agree`);
  t.is(rows.length, 67);
  t.deepEqual(wrong, []);
});

skipWhen(!haveConformance(), '../shared absent')('spec-md examples all validate', (t) => {
  const rows = load('spec-md-examples.json', 'examples');
  const wrong = rows.flatMap((r) => {
    const kind = kindOfMediaType(r.mediaType);
    const errs = kind ? checkDocumentText(kind, r.document) : [`unknown media type ${r.mediaType}`];
    return errs.length ? [`${r.source} ${r.title}: ${errs.join('; ')}`] : [];
  });
  t.log(`${rows.length - wrong.length} of ${rows.length} examples validate`);
  t.deepEqual(wrong, []);
});

skipWhen(!haveConformance(), '../shared absent')('the JSON Schemas alone (ajv, local refs) agree on 63 of 67 rows: the 4 Go-only checks', (t) => {
  const v = schemaValidators();
  const rows = load('schema-test-cases.json', 'cases');
  const disagree: string[] = [];
  for (const r of rows) {
    let ok: boolean;
    try { ok = v[kindOfMediaType(r.mediaType) as DocumentKind](JSON.parse(r.document)); } catch { ok = false; }
    if ((ok ? 'valid' : 'invalid') !== r.expect) disagree.push(`${r.source.replace('schema/', '')}#${r.index}`);
  }
  t.log(`schemas alone: ${rows.length - disagree.length} of ${rows.length}; differ on ${disagree.join(', ')}`);
  t.true(disagree.length <= 4);
});
