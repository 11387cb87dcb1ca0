// compose-go/derived/loader-test-cases.yaml: ~280 upstream loader tests.
// Each case's documents are loaded as in-memory files placed in compose-go's loader/
// directory (so their relative testdata/ paths resolve). outcome ok → a model;
// outcome error → a TsstackError (never another exception). A second tally records
// whether the error message contains upstream's expected substring.
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { loadStack } from '../../src/spec/load.js';
import { isTsstackError } from '../../src/util/errors.js';
import { conformancePath, haveConformance, readTable, Tally } from './conformance.js';
import { LOADER_KNOWN } from './loader-known.js';

interface Case {
  name: string;
  source: string;
  outcome: 'ok' | 'error';
  inputs: { yaml: string }[];
  env?: Record<string, string>;
  loader_options?: string[];
  calls?: string[];
  error_messages?: string[];
}

const tally = new Tally('loader-test-cases');
const messages = new Tally('loader-test-cases error messages (substring match)');

if (!haveConformance) {
  test('loader cases', (t) => {
    t.log('skipped: ../shared absent');
    t.pass();
  });
} else {
  const dir = conformancePath('compose-go/loader');
  const table = readTable<{ cases: Case[] }>('compose-go/derived/loader-test-cases.yaml');
  const seen = new Map<string, number>();
  for (const c of table.cases) {
    const n = (seen.get(c.name) ?? 0) + 1;
    seen.set(c.name, n);
    const id = n > 1 ? `${c.name}#${n}` : c.name;
    test(`loader ${id} (${c.source})`, async (t) => {
      const opts = c.loader_options ?? [];
      const profiles = opts.flatMap((o) => [...o.matchAll(/Profiles = \[\]string\{([^}]*)\}/g)].flatMap((m) => m[1]!.split(',').map((s) => s.trim().replace(/"/g, ''))));
      // Upstream's helpers load()/loadYAML() skip consistency checks (see the table's note); so do
      // YAML-level tests that call no loader entry point.
      const skip = opts.some((o) => /SkipConsistencyCheck = true|SkipNormalization = true/.test(o)) || (c.calls ?? []).some((x) => /^load(YAML)?(WithEnv)?$|^Normalize$/.test(x)) || (c.calls ?? []).length === 0;
      const files = c.inputs.map((_, i) => `${dir}/__case-${i}.yaml`);
      const mem = new Map(files.map((f, i) => [f, c.inputs[i]!.yaml]));
      const run = (which: string[]) =>
        loadStack({
          files: which,
          projectDir: dir,
          projectName: undefined,
          env: { HOME: '/home/tsstack-test', ...(c.env ?? {}) },
          profiles: profiles.length ? profiles : undefined,
          skipConsistencyCheck: skip,
          readFile: async (p) => mem.get(p) ?? readFile(p, 'utf8'),
        });
      // Several documents: for an expected error, upstream loops over variants (each must fail);
      // otherwise they are files given in order.
      const attempts = c.outcome === 'error' && files.length > 1 ? files.map((f) => [f]) : [files];
      let ok = true;
      let detail = '';
      let msgOk = true;
      for (const which of attempts) {
        try {
          await run(which);
          if (c.outcome === 'error') {
            ok = false;
            detail = `loaded ${which.join(', ')} without error`;
          }
        } catch (e) {
          if (!isTsstackError(e)) {
            ok = false;
            detail = `not a TsstackError: ${(e as Error).stack}`;
          } else if (c.outcome === 'ok') {
            ok = false;
            detail = e.message;
          } else if (c.error_messages?.length) {
            if (!c.error_messages.some((m) => e.message.includes(m))) {
              msgOk = false;
              detail = `message: ${e.message}`;
            }
          }
        }
      }
      tally.record(id, ok, LOADER_KNOWN[id]);
      if (c.outcome === 'error' && ok && c.error_messages?.length) messages.record(id, msgOk, msgOk ? undefined : detail);
      if (LOADER_KNOWN[id]) t.false(ok, `known failure now passes, remove it from loader-known.ts: ${id}`);
      else t.true(ok, `${id}: ${detail}`);
    });
  }
  test.after.always(() => {
    console.log(tally.summary());
    console.log(messages.summary().replace('failing (known)', 'message differs (informational)'));
  });
}
