// Property: whatever a layer tar holds (.., absolute paths, symlinks to
// anywhere, hard links through them), unpacking never creates anything outside
// the layer directory; it either succeeds or refuses with a TsstackError.
import test from 'ava';
import fc from 'fast-check';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { unpackLayer } from '../../src/engine/image/unpack.js';
import { parseReference, formatReference } from '../../src/engine/image/reference.js';
import { TsstackError } from '../../src/util/errors.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';
import { makeTar, type FixtureEntry } from './layers-fixture.js';

const MARK = `tsstack-fuzz-${process.pid}`;
const part = fc.constantFrom('a', 'b', '..', '.', MARK);
const path = fc.array(part, { minLength: 1, maxLength: 4 }).chain((ps) => fc.constantFrom(ps.join('/'), '/' + ps.join('/')));
const target = fc.constantFrom('..', '../..', '/', '/tmp', 'a', '../' + MARK, '/tmp/' + MARK, '.');
const entry: fc.Arbitrary<FixtureEntry> = fc.oneof(
  path.map((name) => ({ name, data: 'x' })),
  path.map((name) => ({ name, type: 'directory' as const })),
  fc.tuple(path, target).map(([name, linkname]) => ({ name, type: 'symlink' as const, linkname })),
  fc.tuple(path, path).map(([name, linkname]) => ({ name, type: 'link' as const, linkname })),
  path.map((name) => ({ name: name.replace(/[^/]*$/, '.wh.$&'), data: '' })),
);

test.serial('unpacking never writes outside the layer directory', async (t) => {
  const root = makeTemp();
  try {
    let refused = 0, ok = 0;
    await fc.assert(fc.asyncProperty(fc.array(entry, { minLength: 1, maxLength: 6 }), async (entries) => {
      const dir = join(root, 'case');
      rmTempInside(dir);
      mkdirSync(join(dir, 'inner', 'diff'), { recursive: true });
      try {
        await unpackLayer(Readable.from([await makeTar(entries)]), join(dir, 'inner', 'diff'), 'fuzz');
        ok++;
      } catch (e) {
        if (!(e instanceof TsstackError)) throw e;
        refused++;
      }
      const outside = [...readdirSync(dir).filter((n) => n !== 'inner'), ...readdirSync(join(dir, 'inner')).filter((n) => n !== 'diff')];
      return outside.length === 0 && !existsSync(join('/tmp', MARK)) && !existsSync(join(root, MARK));
    }), { numRuns: Number(process.env.FUZZ_RUNS ?? 150), seed: Number(process.env.FUZZ_SEED ?? 4242) });
    t.log(`${ok} unpacked, ${refused} refused`);
    t.true(refused > 0 && ok > 0);
  } finally {
    rmTemp(root);
  }
});

function rmTempInside(dir: string): void {
  rmTemp(dir);
}

test('references: format ∘ parse is idempotent on normalized names', (t) => {
  const comp = fc.stringMatching(/^[a-z0-9]{1,6}(?:[._-][a-z0-9]{1,4})?$/);
  const ref = fc.tuple(
    fc.constantFrom('', 'localhost:5000/', 'reg.example.com/', '127.0.0.1:5000/', 'docker.io/'),
    fc.array(comp, { minLength: 1, maxLength: 3 }),
    fc.option(fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}$/), { nil: undefined }),
  ).map(([d, ps, tag]) => d + ps.join('/') + (tag ? `:${tag}` : ''));
  fc.assert(fc.property(ref, (s) => {
    let r;
    try { r = parseReference(s); } catch { return true; } // e.g. a 64-hex-like path
    const once = formatReference(r);
    return formatReference(parseReference(once)) === once;
  }), { numRuns: 300, seed: 7 });
  t.pass();
});
