// BuildKit's parser cases from ../shared/conformance/buildkit, read in place.
import test from 'ava';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseDockerfile } from '../../../src/engine/image/build/parser.js';
import { dumpAst } from '../../../src/engine/image/build/ast-dump.js';
import { skipWhen } from '../../helpers/skip.js';

const BK = resolve(process.cwd(), '../shared/conformance/buildkit');
const PARSER = join(BK, 'frontend/dockerfile/parser');
const present = existsSync(BK);

/** Cases known to differ from BuildKit, with the reason; asserted to still differ. */
const KNOWN_FAILURES: Record<string, string> = {};

skipWhen(!present, '../shared absent')('parser/testfiles: every Dockerfile dumps to its result', (t) => {
  const dir = join(PARSER, 'testfiles');
  const cases = readdirSync(dir).sort();
  const failures: string[] = [];
  for (const c of cases) {
    const expected = readFileSync(join(dir, c, 'result'), 'utf8').replace(/\r\n/g, '\n');
    let got: string;
    try {
      got = dumpAst(parseDockerfile(readFileSync(join(dir, c, 'Dockerfile'), 'utf8')).children);
    } catch (e) {
      got = `error: ${(e as Error).message}`;
    }
    const ok = got === expected;
    if (c in KNOWN_FAILURES) t.false(ok, `${c} now passes: remove it from KNOWN_FAILURES`);
    else if (!ok) failures.push(`${c}:\n--- expected\n${expected}--- got\n${got}`);
  }
  t.log(`testfiles: ${cases.length - failures.length - Object.keys(KNOWN_FAILURES).length} of ${cases.length} pass`);
  t.deepEqual(failures, []);
});

skipWhen(!present, '../shared absent')('parser/testfiles-negative: every Dockerfile is refused', (t) => {
  const dir = join(PARSER, 'testfiles-negative');
  const cases = readdirSync(dir).sort();
  const accepted: string[] = [];
  for (const c of cases) {
    try {
      parseDockerfile(readFileSync(join(dir, c, 'Dockerfile'), 'utf8'));
      accepted.push(c);
    } catch (e) {
      t.regex((e as Error).message, /^Dockerfile(:\d+)?: /, c);
    }
  }
  t.log(`testfiles-negative: ${cases.length - accepted.length} of ${cases.length} refused`);
  t.deepEqual(accepted, []);
});

skipWhen(!present, '../shared absent')('testfile-line: start and end lines', (t) => {
  const exp = JSON.parse(readFileSync(join(BK, 'derived/testfile-line.expected.json'), 'utf8')) as {
    root: { startLine: number; endLine: number };
    children: { startLine: number; endLine: number }[];
  };
  const r = parseDockerfile(readFileSync(join(PARSER, 'testfile-line/Dockerfile'), 'utf8'));
  t.deepEqual({ startLine: r.startLine, endLine: r.endLine }, exp.root);
  t.deepEqual(r.children.map((c) => ({ startLine: c.startLine, endLine: c.endLine })), exp.children);
});
