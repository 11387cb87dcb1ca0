// compose-go/derived/dotenv-cases.yaml: single-line, multi-line, error, ignored-line and fixture cases.
import { readFileSync } from 'node:fs';
import test from 'ava';
import { DotenvError, parseDotenv } from '../../src/stack/dotenv.js';
import { conformancePath, haveConformance, readTable, Tally, type KnownFailures } from './conformance.js';

interface Table {
  single_line_cases: { input: string; key: string; value: string }[];
  multi_line_cases: { name?: string; source: string; input?: string; files?: string[]; lookup?: Record<string, string>; expected: Record<string, string>; exact_keys?: boolean }[];
  error_cases: { source: string; input?: string; file?: string; error_contains?: string; error_equals?: string; error?: boolean }[];
  ignored_lines: string[];
  fixture_cases: { source: string; file: string; lookup?: Record<string, string>; expected: Record<string, string>; exact_keys?: boolean; absent_keys?: string[] }[];
}

const KNOWN: KnownFailures = {};
const tally = new Tally('dotenv');

function check(t: import('ava').ExecutionContext, id: string, ok: boolean, detail: string): void {
  tally.record(id, ok, KNOWN[id]);
  if (KNOWN[id]) t.false(ok, `known failure now passes: ${id}`);
  else t.true(ok, `${id}: ${detail}`);
}

function matches(got: Record<string, string>, c: { expected: Record<string, string>; exact_keys?: boolean; absent_keys?: string[] }): boolean {
  for (const [k, v] of Object.entries(c.expected)) if (got[k] !== v) return false;
  if (c.exact_keys && Object.keys(got).length !== Object.keys(c.expected).length) return false;
  for (const k of c.absent_keys ?? []) if (k in got) return false;
  return true;
}

if (!haveConformance) {
  test.skip('dotenv conformance [skipped: ../shared absent]', () => {});
} else {
  const table = readTable<Table>('compose-go/derived/dotenv-cases.yaml');
  table.single_line_cases.forEach((c, i) => {
    const id = `single #${i} ${JSON.stringify(c.input)}`;
    test(`dotenv ${id}`, (t) => {
      let got: Record<string, string> = {};
      try {
        got = parseDotenv(c.input);
      } catch (e) {
        return check(t, id, false, (e as Error).message);
      }
      check(t, id, got[c.key] === c.value, JSON.stringify(got));
    });
  });
  table.multi_line_cases.forEach((c, i) => {
    const id = `multi #${i} ${c.name ?? c.source}`;
    test(`dotenv ${id}`, (t) => {
      const lookup = (k: string) => c.lookup?.[k];
      let got: Record<string, string> = {};
      try {
        const vars = new Map<string, string>();
        for (const src of c.files ?? [c.input!]) Object.assign(got, parseDotenv(src, lookup, vars));
      } catch (e) {
        return check(t, id, false, (e as Error).message);
      }
      check(t, id, matches(got, c), JSON.stringify(got));
    });
  });
  table.error_cases.forEach((c, i) => {
    const id = `error #${i} ${c.source}`;
    test(`dotenv ${id}`, (t) => {
      const src = c.file ? readFileSync(conformancePath('compose-go/dotenv', c.file), 'utf8') : c.input!;
      try {
        const got = parseDotenv(src);
        return check(t, id, false, `no error, got ${JSON.stringify(got)}`);
      } catch (e) {
        const m = (e as Error).message;
        const ok = e instanceof DotenvError && (c.error_contains ? m.includes(c.error_contains) : c.error_equals ? m === c.error_equals : true);
        check(t, id, ok, m);
      }
    });
  });
  table.ignored_lines.forEach((line, i) => {
    const id = `ignored #${i} ${JSON.stringify(line)}`;
    test(`dotenv ${id}`, (t) => {
      let got: Record<string, string> | undefined;
      try {
        got = parseDotenv(line);
      } catch {
        /* counted below */
      }
      check(t, id, got !== undefined && Object.keys(got).length === 0, JSON.stringify(got));
    });
  });
  table.fixture_cases.forEach((c, i) => {
    const id = `fixture #${i} ${c.source} ${c.file}`;
    test(`dotenv ${id}`, (t) => {
      const src = readFileSync(conformancePath('compose-go/dotenv', c.file), 'utf8');
      let got: Record<string, string> = {};
      try {
        got = parseDotenv(src, (k) => c.lookup?.[k]);
      } catch (e) {
        return check(t, id, false, (e as Error).message);
      }
      check(t, id, matches(got, c), JSON.stringify(got));
    });
  });
  test.after.always(() => console.log(tally.summary()));
}
