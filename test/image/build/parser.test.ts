// Parser behaviour beyond the BuildKit tables, with literals.
import test from 'ava';
import { parseDockerfile } from '../../../src/engine/image/build/parser.js';
import { dumpAst, goQuote } from '../../../src/engine/image/build/ast-dump.js';
import { parseDockerfileText } from '../../../src/engine/image/build/instructions.js';

test('heredocs: bodies, <<- tab stripping, quoted delimiters, line spans', (t) => {
  const r = parseDockerfile('FROM x\nRUN <<EOF\necho a\n  echo b\nEOF\nCOPY <<-"A" <<B /d/\n\t\tline $X\n\tA\nb\nB\nRUN ["echo", "<<EOF"]\n');
  const run = r.children[1]!;
  t.deepEqual([run.startLine, run.endLine], [2, 5]);
  t.deepEqual(run.heredocs.map((h) => [h.name, h.content, h.expand]), [['EOF', 'echo a\n  echo b\n', true]]);
  const copy = r.children[2]!;
  t.deepEqual([copy.startLine, copy.endLine], [6, 10]);
  t.deepEqual(copy.heredocs.map((h) => [h.word, h.content, h.expand]), [['<<-"A"', 'line $X\n', false], ['<<B', 'b\n', true]]);
  t.is(r.children[3]!.heredocs.length, 0, 'JSON form has no heredocs');
  t.throws(() => parseDockerfile('FROM x\nRUN <<EOF\nnever ends\n'), { message: /^Dockerfile:2: unterminated heredoc <<EOF/ });
});

test('escape directive: backtick continues lines, backslash is literal', (t) => {
  const r = parseDockerfile('# escape=`\nFROM x\nRUN echo C:\\dir `\n  more\n');
  t.is(r.escapeToken, '`');
  t.is(dumpAst(r.children), '(from "x")\n(run "echo C:\\\\dir   more")\n');
  t.throws(() => parseDockerfile('# escape=`\n# escape=\\\nFROM x\n'), { message: /only one escape parser directive/ });
  t.throws(() => parseDockerfile('# escape=x\nFROM x\n'), { message: /invalid escape token/ });
  t.deepEqual(parseDockerfile('# syntax=docker/dockerfile:1\n# escape=\\\nFROM x\n').directives, { syntax: 'docker/dockerfile:1', escape: '\\' });
});

test('directives only count at the very top; CRLF and BOM are accepted', (t) => {
  t.is(parseDockerfile('FROM x\n# escape=`\nRUN a `\n').escapeToken, '\\');
  const r = parseDockerfile('\uFEFFFROM x\r\nRUN a \\\r\n  b\r\n');
  t.is(dumpAst(r.children), '(from "x")\n(run "a   b")\n');
});

test('empty continuation lines are accepted with a warning', (t) => {
  const r = parseDockerfile('FROM x\nRUN a \\\n\n  b\n');
  t.is(dumpAst(r.children), '(from "x")\n(run "a   b")\n');
  t.is(r.warnings.length, 1);
  t.regex(r.warnings[0]!, /^Dockerfile:2: empty continuation line/);
});

test('JSON arrays of non-strings are refused with file and line', (t) => {
  t.throws(() => parseDockerfile('FROM x\n\nCMD ["a", 1]\n', { file: 'app.Dockerfile' }), { message: 'app.Dockerfile:3: when using JSON array syntax, arrays must be comprised of strings only' });
});

test('Go quoting of dumped strings', (t) => {
  t.is(goQuote('a"b\\c\n\t\x00\x7f é ☃'), '"a\\"b\\\\c\\n\\t\\x00\\x7f é ☃"');
  t.is(goQuote('\u200b'), '"\\u200b"');
});

test('instruction errors carry file and line; SHELL wants JSON', (t) => {
  t.throws(() => parseDockerfileText('FROM x\nSHELL /bin/bash -c\n'), { message: 'Dockerfile:2: SHELL requires the arguments to be in JSON form' });
  t.throws(() => parseDockerfileText('RUN x\n'), { message: 'Dockerfile:1: no build stage in current context' });
  t.throws(() => parseDockerfileText('FROM a b\n'), { message: /^Dockerfile:1: FROM requires either one or three arguments/ });
  t.throws(() => parseDockerfileText('FROM a AS 1x\n'), { message: /invalid name for build stage/ });
  t.throws(() => parseDockerfileText('FROM a\nCOPY --from x y\n'), { message: /^Dockerfile:2: missing a value on flag: --from/ });
  t.throws(() => parseDockerfileText('FROM a\nHEALTHCHECK --retries=x CMD y\n'), { message: /invalid value for retries/ });
});
