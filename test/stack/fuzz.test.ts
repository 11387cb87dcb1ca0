// Fuzzing the loader with fast-check: mutated, truncated, mistyped, huge, deeply nested and
// binary stack files each end in a model or a TsstackError — never another exception or a hang.
import test from 'ava';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { loadStack } from '../../src/stack/load.js';
import { isTsstackError } from '../../src/util/errors.js';

const FILE = '/fuzz/compose.yaml';
const BASE = `name: fuzz
x-common: &common
  restart: unless-stopped
services:
  web:
    <<: *common
    image: "nginx:\${TAG:-latest}"
    command: ["nginx", "-g", "daemon off;"]
    ports: ["8080:80", "127.0.0.1:9000-9001:9000-9001/udp"]
    volumes: ["./html:/usr/share/nginx/html:ro", "data:/data"]
    environment:
      A: "1"
      B: \${B:-two}
    depends_on:
      db: { condition: service_healthy }
    healthcheck: { test: "curl -f localhost", interval: 1m30s }
    deploy: { resources: { limits: { memory: 512m, cpus: "0.5" } } }
  db:
    image: postgres
    profiles: [db]
    networks: { back: { aliases: [database] } }
volumes:
  data: {}
networks:
  back: {}
`;

async function outcome(text: string): Promise<string | undefined> {
  try {
    await loadStack({ files: [FILE], env: { TAG: '1' }, profiles: ['db'], readFile: async (p) => {
      if (p === FILE) return text;
      throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    } });
    return undefined;
  } catch (e) {
    if (isTsstackError(e)) return undefined;
    return `${(e as Error)?.stack ?? String(e)}\n--- input ---\n${text.slice(0, 2000)}`;
  }
}

const JUNK = [':', '-', ' ', '\n', '[', ']', '{', '}', '&', '*', '!', '%', '$', '${', '"', "'", '#', '|', '>', '<<', '\t', '\u0000', '\uFFFD', '99999999999999999999999', '-1', 'null', '~', '!reset', '!override', '__proto__'];

const mutation = fc.record({
  pos: fc.nat({ max: BASE.length }),
  del: fc.nat({ max: 12 }),
  insert: fc.oneof(fc.constantFrom(...JUNK), fc.string({ maxLength: 8 }), fc.string({ unit: 'binary', maxLength: 6 })),
});

test('mutated stack files end in a model or a TsstackError', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 6 }), async (muts) => {
      let s = BASE;
      for (const m of muts) {
        const at = Math.min(m.pos, s.length);
        s = s.slice(0, at) + m.insert + s.slice(at + m.del);
      }
      const bad = await outcome(s);
      if (bad) throw new Error(bad);
    }),
    { numRuns: 1500, interruptAfterTimeLimit: 8000 },
  );
  t.pass();
});

test('truncated stack files end in a model or a TsstackError', async (t) => {
  for (let n = 0; n <= BASE.length; n += 3) {
    const bad = await outcome(BASE.slice(0, n));
    t.is(bad, undefined);
  }
});

const key = fc.constantFrom('image', 'ports', 'volumes', 'environment', 'command', 'depends_on', 'healthcheck', 'deploy', 'networks', 'build', 'mem_limit', 'ulimits', 'extends', 'env_file', 'secrets', 'restart', 'tmpfs', 'stop_grace_period', 'labels', 'x-any', 'profiles', 'scale');
const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(Number.MAX_SAFE_INTEGER, 1e308, -1e308, 2 ** 70, -1, 0, 65536, '', '0', '1e999', '99999999999999999999m', '1:2:3:4:5', '[::]:80:80', '${', '$${x}', '${X:?boom}', '::'),
);

test('wrongly typed values in services end in a model or a TsstackError', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.dictionary(key, anyValue, { maxKeys: 5 }), { maxKeys: 3 }), async (services) => {
      const bad = await outcome(stringify({ services }));
      if (bad) throw new Error(bad);
    }),
    { numRuns: 1000, interruptAfterTimeLimit: 8000 },
  );
  t.pass();
});

test('top-level junk of any shape ends in a model or a TsstackError', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.dictionary(fc.constantFrom('services', 'networks', 'volumes', 'secrets', 'configs', 'include', 'name', 'x-y', 'version'), fc.jsonValue({ maxDepth: 4 })), async (doc) => {
      const bad = await outcome(stringify(doc));
      if (bad) throw new Error(bad);
    }),
    { numRuns: 500, interruptAfterTimeLimit: 5000 },
  );
  t.pass();
});

test('deep nesting and huge inputs end in a TsstackError or a model', async (t) => {
  const deepSeq = 'services:\n  a:\n    image: a\n    x-deep: ' + '['.repeat(20000) + ']'.repeat(20000) + '\n';
  const deepMap = 'services:\n  a:\n    image: a\n    x-deep: ' + '{a: '.repeat(5000) + '1' + '}'.repeat(5000) + '\n';
  const aliasBomb = 'a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\nservices: {}\n';
  const manyServices = 'services:\n' + Array.from({ length: 3000 }, (_, i) => `  s${i}:\n    image: img\n`).join('');
  const longString = 'services:\n  a:\n    image: "' + 'x'.repeat(2_000_000) + '"\n';
  const binary = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)).toString('latin1');
  for (const text of [deepSeq, deepMap, aliasBomb, manyServices, longString, binary]) {
    t.is(await outcome(text), undefined);
  }
});
