// Hostile or broken input never crashes the loader or the Dockerfile parser:
// seeded mutations of every stack file and Dockerfile in ../shared/conformance
// either load or fail with a located TsstackError (exit 2/5), never another
// exception (the CLI's exit 70, "internal error"), and none takes over 10 s.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { parseDockerfileText } from '../../src/engine/image/build/instructions.js';
import { expandHeredoc, expandWords, ShellExpansionError } from '../../src/engine/image/build/shell-lex.js';
import { loadStack } from '../../src/stack/load.js';
import { isTsstackError } from '../../src/util/errors.js';
import { skipWhen } from '../helpers/skip.js';

const CONFORMANCE = join(process.cwd(), '../shared/conformance');
const have = (() => { try { return statSync(CONFORMANCE).isDirectory(); } catch { return false; } })();

function walk(dir: string, keep: (name: string) => boolean, out: string[] = []): string[] {
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p, keep, out);
    else if (keep(e)) out.push(p);
  }
  return out;
}

/** mulberry32: a small seeded generator, so a failure names a case that can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = ['$', '${', '}', '${A:-${B:-', ':', '- ', '&x', '*x', '<<: *x', '!reset', '!override', '"', "'", '[', ']', '{', '}', '\t', '\n', '  ', '#', '\\', '\0', '\u2028', '9'.repeat(30), '-1', '0x', 'null', '~', '|', '>', '---\n', '..', '/', '%', '@', '\r'];

/** One to four random edits of `text`: a line dropped, doubled or swapped, a piece inserted, a cut, deep nesting. */
function mutate(text: string, r: () => number): string {
  let lines = text.split('\n');
  const pick = (n: number) => Math.floor(r() * n);
  for (let k = 1 + pick(4); k > 0; k--) {
    const i = pick(lines.length);
    switch (pick(7)) {
      case 0: lines.splice(i, 1); break;
      case 1: lines.splice(i, 0, lines[i] ?? ''); break;
      case 2: { const j = pick(lines.length); [lines[i], lines[j]] = [lines[j]!, lines[i]!]; break; }
      case 3: { const l = lines[i] ?? ''; const at = pick(l.length + 1); lines[i] = l.slice(0, at) + PIECES[pick(PIECES.length)] + l.slice(at); break; }
      case 4: lines = lines.slice(0, i); break;
      case 5: { const l = lines[i] ?? ''; lines[i] = l + ' ' + '${X:-'.repeat(50 + pick(500)) + 'v' + '}'.repeat(50 + pick(500)); break; }
      default: { const l = lines[i] ?? ''; lines[i] = ' '.repeat(pick(9)) + l.trimStart(); }
    }
  }
  return lines.join('\n');
}

async function timed<T>(what: string, f: () => Promise<T> | T): Promise<{ ms: number; error?: unknown }> {
  const t0 = performance.now();
  try {
    await f();
    return { ms: performance.now() - t0 };
  } catch (error) {
    return { ms: performance.now() - t0, error };
  }
}

const ENOENT = () => Promise.reject(Object.assign(new Error('no such file'), { code: 'ENOENT' }));

skipWhen(!have, '../shared absent')('3000 mutated stack files: each loads or fails with a located error, within 10 s', async (t) => {
  const seeds = walk(CONFORMANCE, (n) => /\.ya?ml$/.test(n)).map((f) => readFileSync(f, 'utf8'));
  const r = rng(20261206);
  const bad: string[] = [];
  let slowest = 0;
  for (let c = 0; c < 3000; c++) {
    const text = mutate(seeds[c % seeds.length]!, r);
    const virtual = '/fuzz/compose.yaml';
    const res = await timed('load', () => loadStack({ files: [virtual], env: {}, cwd: '/fuzz', readFile: (p) => (p === virtual ? Promise.resolve(text) : ENOENT()) }));
    slowest = Math.max(slowest, res.ms);
    if (res.ms > 10_000) bad.push(`case ${c}: ${Math.round(res.ms)} ms`);
    if (res.error && !isTsstackError(res.error)) bad.push(`case ${c}: ${(res.error as Error).stack?.split('\n').slice(0, 3).join(' | ')}\n---\n${text.slice(0, 400)}`);
  }
  t.log(`slowest case ${Math.round(slowest)} ms`);
  t.deepEqual(bad, []);
});

skipWhen(!have, '../shared absent')('300 mutated Dockerfiles: each parses or fails with a located error', async (t) => {
  const seeds = walk(CONFORMANCE, (n) => /^Dockerfile/.test(n) || n.endsWith('.dockerfile')).map((f) => readFileSync(f, 'utf8'));
  t.true(seeds.length > 10);
  const r = rng(61202026);
  const bad: string[] = [];
  for (let c = 0; c < 300; c++) {
    const text = mutate(seeds[c % seeds.length]!, r);
    // Parsing, then the word expansion a build does on every argument (ARG/ENV values unknown: empty).
    const res = await timed('parse', () => {
      for (const line of text.split('\n')) {
        for (const f of [expandWords, expandHeredoc]) {
          try { f(line, { A: 'a', B: '' }); } catch (e) { if (!(e instanceof ShellExpansionError)) throw e; }
        }
      }
      parseDockerfileText(text);
    });
    if (res.ms > 10_000) bad.push(`case ${c}: ${Math.round(res.ms)} ms`);
    if (res.error && !isTsstackError(res.error)) bad.push(`case ${c}: ${(res.error as Error).stack?.split('\n').slice(0, 3).join(' | ')}\n---\n${text.slice(0, 400)}`);
  }
  t.deepEqual(bad, []);
});
