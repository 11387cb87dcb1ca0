// Pure helpers: durations, sizes, shell words, project names.
import test from 'ava';
import { formatDuration, parseBytes, parseDuration } from '../../src/model/units.js';
import { splitShellWords } from '../../src/stack/shellwords.js';

const durations: [string | number, number][] = [
  ['1m30s', 90_000],
  ['1h', 3_600_000],
  ['500ms', 500],
  ['1.5s', 1500],
  ['2h45m', 9_900_000],
  ['10us', 0.01],
  ['0', 0],
  ['30', 30_000],
  [5, 5000],
];
for (const [input, ms] of durations) test(`parseDuration ${JSON.stringify(input)}`, (t) => t.is(parseDuration(input), ms));
for (const bad of ['', '1x', 'm', '10 minutes', '-1s', '1m30']) test(`parseDuration rejects ${JSON.stringify(bad)}`, (t) => t.throws(() => parseDuration(bad)));

const formatted: [number, string][] = [
  [0, '0s'],
  [500, '500ms'],
  [1500, '1.5s'],
  [90_000, '1m30s'],
  [3_600_000, '1h0m0s'],
  [3_661_000, '1h1m1s'],
];
for (const [ms, s] of formatted) test(`formatDuration ${ms}`, (t) => t.is(formatDuration(ms), s));

const sizes: [string | number, number][] = [
  ['512m', 512 * 1024 ** 2],
  ['1g', 1024 ** 3],
  ['1GB', 1024 ** 3],
  ['1.5GiB', 1.5 * 1024 ** 3],
  ['100k', 102_400],
  ['100kb', 102_400],
  ['1024', 1024],
  ['10b', 10],
  [2048, 2048],
];
for (const [input, n] of sizes) test(`parseBytes ${JSON.stringify(input)}`, (t) => t.is(parseBytes(input), n));
for (const bad of ['', 'lots', '1x', '1 0m']) test(`parseBytes rejects ${JSON.stringify(bad)}`, (t) => t.throws(() => parseBytes(bad)));

const words: [string, string[]][] = [
  ['echo hello world', ['echo', 'hello', 'world']],
  [`sh -c 'echo "a b"'`, ['sh', '-c', 'echo "a b"']],
  [`a "b c" d\\ e`, ['a', 'b c', 'd e']],
  [`x "say \\"hi\\"" ''`, ['x', 'say "hi"', '']],
  ['  spaced   out  ', ['spaced', 'out']],
];
for (const [input, out] of words) test(`splitShellWords ${JSON.stringify(input)}`, (t) => t.deepEqual(splitShellWords(input), out));
test('splitShellWords rejects an unterminated quote', (t) => t.throws(() => splitShellWords(`echo "oops`)));
