// compose-go/derived/override-merge-cases.yaml: merging two files, then de-duplication.
import test from 'ava';
import { parse } from 'yaml';
import { enforceUnicity, mergeValue } from '../../src/stack/merge.js';
import { deepEqual, haveConformance, readTable, Tally, type KnownFailures } from './conformance.js';

interface Case {
  name: string;
  kind: 'merge' | 'merge-no-unicity' | 'unicity';
  base?: string;
  override?: string;
  input?: string;
  expected: string;
}

const KNOWN: KnownFailures = {
  'TestMergeEnvFilesMixed/StringThenSequence':
    'same inputs as "TestMergeEnvFilesMixed/Unicity between string and mapping" but a different expected result; the table entry looks mis-transcribed, we follow the Unicity case',
};
const tally = new Tally('override-merge');

if (!haveConformance) {
  test.skip('merge conformance [skipped: ../shared absent]', () => {});
} else {
  const table = readTable<{ cases: Case[] }>('compose-go/derived/override-merge-cases.yaml');
  for (const c of table.cases) {
    const id = c.name;
    test(`merge ${id}`, (t) => {
      let got: unknown;
      if (c.kind === 'unicity') {
        got = parse(c.input!);
        enforceUnicity(got as Record<string, unknown>);
      } else {
        got = mergeValue(parse(c.base!), parse(c.override!), []);
        if (c.kind === 'merge') enforceUnicity(got as Record<string, unknown>);
      }
      const ok = deepEqual(got, parse(c.expected));
      tally.record(id, ok, KNOWN[id]);
      if (KNOWN[id]) t.false(ok, `known failure now passes: ${id}`);
      else t.true(ok, `${id}: got\n${JSON.stringify(got, null, 1)}\nexpected\n${JSON.stringify(parse(c.expected), null, 1)}`);
    });
  }
  test.after.always(() => console.log(tally.summary()));
}
