// BuildKit's shell-lexer tables (envVarTest, wordsTest) and parseWords cases, read in place.
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expandHeredoc, expandWord, expandWords } from '../../../src/engine/image/build/shell-lex.js';
import { parseWords } from '../../../src/engine/image/build/parser.js';
import { skipWhen } from '../../helpers/skip.js';

const BK = resolve(process.cwd(), '../shared/conformance/buildkit');
const SHELL = join(BK, 'frontend/dockerfile/shell');
const present = existsSync(BK);

skipWhen(!present, '../shared absent')('shell/envVarTest: A and U lines', (t) => {
  const env = new Map([['PWD', '/home'], ['SHELL', 'bash'], ['KOREAN', '한국어'], ['NULL', '']]);
  const failures: string[] = [];
  let total = 0;
  for (const line of readFileSync(join(SHELL, 'envVarTest'), 'utf8').split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const parts = line.split('|');
    const platform = parts[0]!.trim();
    if (platform !== 'A' && platform !== 'U') continue;
    total++;
    const src = parts[1]!.trim();
    const expected = (parts[2] ?? '').trim();
    let got: string;
    try { got = expandWord(src, env); } catch { got = 'error'; }
    if (got !== expected) failures.push(`${src} → ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
  }
  t.log(`envVarTest: ${total - failures.length} of ${total} pass`);
  t.deepEqual(failures, []);
});

skipWhen(!present, '../shared absent')('shell/wordsTest', (t) => {
  const env: string[] = [];
  const failures: string[] = [];
  let total = 0;
  for (const line of readFileSync(join(SHELL, 'wordsTest'), 'utf8').split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    if (line.startsWith('ENV ')) { env.push(line.slice(3).replace(/^ +/, '')); continue; }
    const parts = line.split('|');
    total++;
    const src = parts[0]!.trim();
    const expected = parts[1]!.replace(/^ +/, '');
    let got: string;
    try { got = expandWords(src, env).join(','); } catch { got = 'error'; }
    if (got !== expected) failures.push(`${src} → ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
  }
  t.log(`wordsTest: ${total - failures.length} of ${total} pass`);
  t.deepEqual(failures, []);
});

skipWhen(!present, '../shared absent')('derived/parse-words-cases.json', (t) => {
  const doc = JSON.parse(readFileSync(join(BK, 'derived/parse-words-cases.json'), 'utf8')) as { cases: { input: string; expect: string[] }[] };
  for (const c of doc.cases) t.deepEqual(parseWords(c.input), c.expect, c.input);
  t.log(`parse-words: ${doc.cases.length} of ${doc.cases.length} pass`);
});

test('expansion with the backtick escape token', (t) => {
  t.is(expandWord('a`$b', { b: 'x' }, '`'), 'a$b');
  t.is(expandWord('C:\\dir', {}, '`'), 'C:\\dir');
  t.deepEqual(expandWords('a` b c', {}, '`'), ['a b', 'c']);
});

test('heredoc bodies: only $ expands, quotes are text', (t) => {
  t.is(expandHeredoc(`it's "$A" \\$B \\n \${C:-c}\n`, { A: 'a', B: 'b' }), `it's "a" $B \\n c\n`);
});
