// `watch`, `up --watch --keep` and `image import --change` on the command line: declared and documented.
import test from 'ava';
import { harness } from './_harness.js';

/** Help text with commander's line wrapping undone. */
const flat = (s: string): string => s.replace(/\s+/g, ' ');

test('watch --help says what it does and how Ctrl-C ends it', async (t) => {
  const { run } = harness(undefined, undefined, t.teardown.bind(t));
  const r = await run('watch', '--help');
  t.is(r.code, 0, r.err);
  t.regex(r.out, /Usage: tsstack watch \[options\] \[services\.\.\.\]/);
  t.regex(r.out, /--no-up/);
  t.regex(r.out, /docker compose watch/);
  t.regex(flat(r.out), /Ctrl-C stops watching and leaves the stack running/);
  t.regex(flat(r.out), /services deleted from the file are removed/);
});

test('up --help lists --watch and --keep; image import --help lists --change', async (t) => {
  const { run } = harness(undefined, undefined, t.teardown.bind(t));
  const up = await run('up', '--help');
  t.regex(flat(up.out), /--watch keep the stack converged/);
  t.regex(flat(up.out), /--keep with --watch: Ctrl-C stops watching but leaves the stack running/);
  const imp = await run('image', 'import', '--help');
  t.regex(imp.out, /-c, --change <instruction>/);
  t.regex(imp.out, /-m, --message <text>/);
});

test('the full command list names watch', async (t) => {
  const { run } = harness(undefined, undefined, t.teardown.bind(t));
  const r = await run('--help');
  t.regex(flat(r.out), / watch \[options\] \[services\.\.\.\] start the stack if needed, then keep it converged/);
});
