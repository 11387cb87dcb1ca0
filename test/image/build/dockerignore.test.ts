import test from 'ava';
import { IgnoreMatcher, parseDockerignore } from '../../../src/engine/image/build/dockerignore.js';
import { segmentRegex } from '../../../src/engine/image/build/context.js';

const m = (text: string): IgnoreMatcher => new IgnoreMatcher(parseDockerignore(text));

const table: [string, string, boolean][] = [
  ['*.md', 'README.md', true],
  ['*.md', 'docs/a.md', false],
  ['**/*.md', 'docs/a.md', true],
  ['**/*.md', 'a.md', true],
  ['docs', 'docs/deep/file', true],
  ['/docs/', 'docs/x', true],
  ['./a/../b', 'b', true],
  ['a?c', 'abc', true],
  ['a?c', 'a/c', false],
  ['[a-c]x', 'bx', true],
  ['[!a-c]x', 'bx', false],
  ['node_modules/**', 'node_modules/x/y', true],
  ['a/**/b', 'a/b', true],
  ['a/**/b', 'a/x/y/b', true],
  ['\\*x', '*x', true],
  ['\\*x', 'ax', false],
];

for (const [pattern, path, want] of table) {
  test(`ignore ${JSON.stringify(pattern)} vs ${path} → ${want}`, (t) => {
    t.is(m(pattern).ignored(path), want);
  });
}

test('last match wins; ! re-includes', (t) => {
  const x = m('# c\n\n*.log\n!keep.log\nkeep*\n');
  t.true(x.ignored('a.log'));
  t.true(x.ignored('keep.log'), 'a later pattern excludes it again');
  const y = m('*.log\n!keep.log\n');
  t.false(y.ignored('keep.log'));
  t.true(y.ignored('a.log'));
});

test('directories are skipped only when nothing below can be re-included', (t) => {
  const x = m('build\n!build/keep\n');
  t.true(x.ignored('build'));
  t.false(x.canSkipDir('build'));
  t.false(x.ignored('build/keep'));
  t.true(x.ignored('build/other'));
  t.true(m('build\n').canSkipDir('build'));
  t.true(m('build\n!other/x\n').canSkipDir('build'));
});

test('bad patterns are refused', (t) => {
  t.throws(() => parseDockerignore('!\n'));
  t.throws(() => parseDockerignore('[abc\n'));
});

test('COPY source segments use filepath.Match syntax', (t) => {
  t.true(segmentRegex('*.md').test('a.md'));
  t.false(segmentRegex('*.md').test('a.mdx'));
  t.true(segmentRegex('file?').test('file1'));
  t.true(segmentRegex('[ab]*').test('bee'));
  t.true(segmentRegex('[!ab]*').test('cee'));
  t.false(segmentRegex('[!ab]*').test('bee'));
});
