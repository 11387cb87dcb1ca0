// compose-go/derived/loader-test-cases.yaml: ~280 upstream loader tests.
// Each case's documents are loaded as in-memory files placed in compose-go's loader/
// directory (so their relative testdata/ paths resolve). outcome ok → a model;
// outcome error → a TsstackError (never another exception). A second tally records
// whether the error message contains upstream's expected substring.
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { loadStack } from '../../src/stack/load.js';
import { isTsstackError } from '../../src/util/errors.js';
import { conformancePath, deepEqual, haveConformance, readTable, Tally } from './conformance.js';
import { CHECKS } from './loader-checks.js';
import { CASE_ENV, FORMAT_FILLS, LAYOUTS, LOADER_KNOWN, VARIANT_OUTCOMES } from './loader-known.js';

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
const values = new Tally('loader-test-cases hand-ported value checks');

if (!haveConformance) {
  test.skip('loader cases [skipped: ../shared absent]', () => {});
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
      const layout = LAYOUTS[id];
      const root = layout ? `${dir}/__case` : dir;
      // A `%s` placeholder filled in by upstream at run time: one document per value.
      const inputs = FORMAT_FILLS[id] ? FORMAT_FILLS[id].map((v) => c.inputs[0]!.yaml.replace('%s', v)) : c.inputs.map((x) => x.yaml);
      const paths = inputs.map((_, i) => (layout ? `${root}/${layout.paths[i]}` : `${dir}/__case-${i}.yaml`));
      const mem = new Map(paths.map((f, i) => [f, inputs[i]!]));
      for (const [rel, text] of Object.entries(layout?.extra ?? {})) mem.set(`${root}/${rel}`, text);
      const files = layout ? layout.main.map((i) => paths[i]!) : paths;
      const run = (which: string[]) =>
        loadStack({
          files: which,
          projectDir: root,
          projectName: undefined,
          env: { HOME: '/home/tsstack-test', ...(c.env ?? {}), ...(CASE_ENV[id] ?? {}) },
          profiles: profiles.length ? profiles : undefined,
          skipConsistencyCheck: skip,
          readFile: async (p) => {
            const m = mem.get(p);
            if (m !== undefined) return m;
            if (layout) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
            return readFile(p, 'utf8');
          },
        });
      // Several documents: for an expected error, upstream loops over variants (each must fail);
      // otherwise they are files given in order.
      const variants = VARIANT_OUTCOMES[id];
      const attempts = variants || FORMAT_FILLS[id] || (c.outcome === 'error' && files.length > 1) ? files.map((f) => [f]) : [files];
      let ok = true;
      let detail = '';
      let msgOk = true;
      for (const [n, which] of attempts.entries()) {
        const outcome = variants?.[n] ?? c.outcome;
        try {
          const model = await run(which);
          const check = CHECKS[id];
          if (check && outcome === 'ok') {
            for (const [what, got, want] of check(model, root)) {
              const same = deepEqual(got, want);
              values.record(`${id} ${what}`, same, same ? undefined : `got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
              if (!same) {
                ok = false;
                detail = `${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`;
              }
            }
          }
          if (outcome === 'error') {
            ok = false;
            detail = `loaded ${which.join(', ')} without error`;
          }
        } catch (e) {
          if (!isTsstackError(e)) {
            ok = false;
            detail = `not a TsstackError: ${(e as Error).stack}`;
          } else if (outcome === 'ok') {
            ok = false;
            detail = `${which.join(', ')}: ${e.message}`;
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
    console.log(values.summary());
  });
}
