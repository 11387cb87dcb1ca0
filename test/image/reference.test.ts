import test from 'ava';
import { parseReference, normalizeName, familiarName, formatReference } from '../../src/engine/image/reference.js';
import { TsstackError } from '../../src/util/errors.js';

const D = 'sha256:' + 'ab'.repeat(32);

const normalized: [string, string][] = [
  ['redis', 'docker.io/library/redis:latest'],
  ['redis:7', 'docker.io/library/redis:7'],
  ['library/redis:7', 'docker.io/library/redis:7'],
  ['docker.io/redis', 'docker.io/library/redis:latest'],
  ['index.docker.io/library/redis', 'docker.io/library/redis:latest'],
  ['bitnami/redis:7.2', 'docker.io/bitnami/redis:7.2'],
  ['localhost:5000/app:dev', 'localhost:5000/app:dev'],
  ['localhost/app', 'localhost/app:latest'],
  ['127.0.0.1:5000/a/b/c', '127.0.0.1:5000/a/b/c:latest'],
  ['ghcr.io/owner/img:v1.2_3', 'ghcr.io/owner/img:v1.2_3'],
  [`redis@${D}`, `docker.io/library/redis@${D}`],
  [`redis:7@${D}`, `docker.io/library/redis:7@${D}`],
  ['my-reg.example:443/x__y/z-z.q', 'my-reg.example:443/x__y/z-z.q:latest'],
  ['Foo/bar', 'Foo/bar:latest'],
  ['[::1]:5000/app', '[::1]:5000/app:latest'],
];
for (const [input, want] of normalized) {
  test(`normalize ${input}`, (t) => t.is(normalizeName(input), want));
}

const invalid = ['', 'Redis', 'redis:', ':tag', 'redis@sha256:abc', `redis@sha256:${'AB'.repeat(32)}`, 'a//b', 'a/-b', 'redis:-x',
  'redis:' + 'x'.repeat(129), 'a'.repeat(64), 'registry:port:5000/x', '-reg/x', 'x/y_', 'reg.io/'];
for (const input of invalid) {
  test(`refuse ${JSON.stringify(input)}`, (t) => {
    const e = t.throws(() => parseReference(input));
    t.true(e instanceof TsstackError);
    t.is((e as TsstackError).code, 'USAGE');
    t.true(e!.message.includes(JSON.stringify(input)));
  });
}

test('parts and familiar names', (t) => {
  const r = parseReference('localhost:5000/team/app:dev');
  t.deepEqual(r, { domain: 'localhost:5000', path: 'team/app', tag: 'dev' });
  t.is(familiarName(parseReference('redis')), 'redis:latest');
  t.is(familiarName(parseReference('someone/app:1')), 'someone/app:1');
  t.is(familiarName(r), 'localhost:5000/team/app:dev');
  t.is(formatReference(parseReference(`x@${D}`)), `docker.io/library/x@${D}`);
});
