// Real-world Dockerfiles from other projects' test data (awesome-compose,
// docker-compose, compose-go): each must parse into stages (heredocs,
// --mount, ARG before FROM, # syntax= included). Read in place.
import test from 'ava';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseDockerfileText } from '../../../src/engine/image/build/instructions.js';
import { skipWhen } from '../../helpers/skip.js';

const CONF = resolve(process.cwd(), '../shared/conformance');

/** Files known not to parse, with the reason; asserted to still fail. */
const KNOWN_FAILURES: Record<string, string> = {};

function find(dir: string, out: string[] = []): string[] {
  for (const n of readdirSync(dir).sort()) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) { if (n !== 'buildkit' && n !== 'node_modules') find(p, out); } else if (/dockerfile/i.test(n) && !n.endsWith('.dockerignore')) out.push(p);
  }
  return out;
}

skipWhen(!existsSync(CONF), '../shared absent')('Dockerfiles in ../shared/conformance parse', (t) => {
  const files = find(CONF);
  const failures: string[] = [];
  for (const f of files) {
    const rel = relative(CONF, f);
    let err: string | undefined;
    try { parseDockerfileText(readFileSync(f, 'utf8'), rel); } catch (e) { err = (e as Error).message; }
    if (rel in KNOWN_FAILURES) t.truthy(err, `${rel} now parses: remove it from KNOWN_FAILURES`);
    else if (err) failures.push(err);
  }
  t.log(`Dockerfiles: ${files.length - failures.length - Object.keys(KNOWN_FAILURES).length} of ${files.length} parse`);
  t.deepEqual(failures, []);
  t.true(files.length > 0);
});
