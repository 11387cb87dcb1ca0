// compose-go/derived/interpolation-cases.yaml: every template case and document case.
import test from 'ava';
import { substitute, TemplateError } from '../../src/stack/interpolate.js';
import { interpolateValue, interpolationMessage } from '../../src/stack/interpolate-doc.js';
import { haveConformance, readTable, Tally, deepEqual, type KnownFailures } from './conformance.js';

interface Case {
  test: string;
  env: string;
  template: string;
  expected?: string;
  error_contains?: string;
  at_path?: string;
  error_equals?: string;
}
interface DocCase {
  test: string;
  env: string;
  input: unknown;
  expected?: unknown;
  error_equals?: string;
}
interface Table {
  env_sets: Record<string, Record<string, string>>;
  cases: Case[];
  document_cases: DocCase[];
}

const KNOWN: KnownFailures = {
  // Casting after interpolation follows the stack schema's types (normalize.ts), not a
  // generic path table; this case uses paths (`foo.replicas`) outside any stack file.
  'doc TestInterpolateWithCast': 'casting is done by the normalizer on real stack paths, not on arbitrary documents',
};

const tally = new Tally('interpolation');

if (!haveConformance) {
  test.skip('interpolation conformance [skipped: ../shared absent]', () => {});
} else {
  const table = readTable<Table>('compose-go/derived/interpolation-cases.yaml');
  const lookupOf = (set: string) => (k: string) => table.env_sets[set]?.[k];
  table.cases.forEach((c, i) => {
    const id = `#${i} ${c.test}: ${c.template}`;
    test(`interpolation ${id}`, (t) => {
      let ok: boolean;
      let got: string;
      try {
        const out = substitute(c.template, lookupOf(c.env));
        got = JSON.stringify(out);
        if (c.at_path) throw new Error('expected an error');
        ok = c.expected !== undefined && out === c.expected;
      } catch (e) {
        got = (e as Error).message;
        if (!(e instanceof TemplateError)) ok = false;
        else if (c.error_contains) ok = e.message.includes(c.error_contains);
        else if (c.error_equals && c.at_path) ok = interpolationMessage(c.at_path.split('.'), e, c.template) === c.error_equals;
        else ok = false;
      }
      tally.record(id, ok, KNOWN[id]);
      if (KNOWN[id]) t.false(ok, `known failure now passes, remove it from KNOWN: ${id}`);
      else t.true(ok, `${id}: got ${got}`);
    });
  });
  table.document_cases.forEach((c) => {
    const id = `doc ${c.test}`;
    test(`interpolation ${id}`, (t) => {
      let ok: boolean;
      try {
        const out = interpolateValue(c.input, lookupOf(c.env), (path, e, template) => {
          throw new Error(interpolationMessage(path, e, template));
        });
        ok = c.expected !== undefined && deepEqual(out, c.expected);
      } catch (e) {
        ok = c.error_equals !== undefined && (e as Error).message === c.error_equals;
      }
      tally.record(id, ok, KNOWN[id]);
      if (KNOWN[id]) t.false(ok, `known failure now passes: ${id}`);
      else t.true(ok, id);
    });
  });
  test.after.always(() => console.log(tally.summary()));
}
