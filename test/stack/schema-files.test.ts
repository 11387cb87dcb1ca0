// Every compose file in ../shared/conformance validates against stack.schema.json (raw, before
// interpolation), every complete example of the Compose Specification text does too, and the
// real-world stacks (awesome-compose, docker/compose fixtures) load into a model.
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import test from 'ava';
import { loadStack } from '../../src/stack/load.js';
import { mergeValue, stripMarkers } from '../../src/stack/merge.js';
import { validateDocument } from '../../src/stack/validate.js';
import { parseYaml } from '../../src/stack/yaml-read.js';
import { CONFORMANCE, conformancePath, haveConformance, readTable, Tally, type KnownFailures } from './conformance.js';
import { yamlFilesBelow } from '../helpers/yaml-files.js';

const KNOWN: KnownFailures = {
  'compose-go/loader/testdata/extends/base.yaml': 'declares a null service (nil:) that upstream only uses as an extends source; the schema rejects it, as the Compose schema does',
};
const PLACEHOLDER = 'illustrates merge rules with placeholder keys (key1, DNS) that are not Compose attributes; the Compose schema rejects them too';
const SNIPPETS_KNOWN: KnownFailures = {
  '#151 13-merge.md > Merge and override > Mapping': PLACEHOLDER,
  '#152 13-merge.md > Merge and override > Mapping': PLACEHOLDER,
  '#153 13-merge.md > Merge and override > Mapping': PLACEHOLDER,
  '#154 13-merge.md > Merge and override > Sequence': PLACEHOLDER,
  '#155 13-merge.md > Merge and override > Sequence': PLACEHOLDER,
  '#156 13-merge.md > Merge and override > Sequence': PLACEHOLDER,
  '#180 build.md > Compose Build Specification > Attributes > additional_contexts': 'the example repeats a mapping key, which tsstack rejects as YAML (duplicate keys are errors)',
};
const LOAD_KNOWN: KnownFailures = {};

function validateText(file: string, text: string): void {
  const pf = parseYaml(file, text);
  let v: unknown = pf.value ?? {};
  if (pf.docs) for (const d of pf.docs) v = mergeValue(v, d, []);
  validateDocument(stripMarkers(v ?? {}), (path) => ({ file, line: pf.lines.get(path.join('.')) }));
}

const files = new Tally('schema: compose files');
const snippets = new Tally('schema: Compose Specification examples');
const loads = new Tally('load: awesome-compose + docker/compose fixtures');

function record(t: import('ava').ExecutionContext, tally: Tally, known: KnownFailures, id: string, ok: boolean, detail: string) {
  tally.record(id, ok, known[id]);
  if (known[id]) t.false(ok, `known failure now passes: ${id}`);
  else t.true(ok, `${id}: ${detail}`);
}

if (!haveConformance) {
  test.skip('schema files [skipped: ../shared absent]', () => {});
} else {
  const composeFiles = [
    ...yamlFilesBelow(conformancePath('compose-go/loader/testdata')),
    ...yamlFilesBelow(conformancePath('compose-go/cli/testdata')),
    conformancePath('compose-go/loader/full-example.yml'),
    ...yamlFilesBelow(conformancePath('awesome-compose')),
    ...yamlFilesBelow(conformancePath('docker-compose/pkg/e2e/testdata')),
  ].filter((f) => !/\/derived\//.test(f));
  for (const f of composeFiles) {
    const id = relative(CONFORMANCE, f);
    test(`schema ${id}`, (t) => {
      try {
        validateText(f, readFileSync(f, 'utf8'));
        record(t, files, KNOWN, id, true, '');
      } catch (e) {
        record(t, files, KNOWN, id, false, (e as Error).message);
      }
    });
  }

  const TOP = new Set(['services', 'networks', 'volumes', 'secrets', 'configs', 'include', 'name', 'version']);
  const table = readTable<{ snippets: { file: string; section: string; yaml: string; plain_yaml_parses: boolean; top_level_keys?: string[] }[] }>('compose-spec/spec-yaml-snippets.yaml');
  table.snippets.forEach((s, i) => {
    const complete = s.plain_yaml_parses && (s.top_level_keys ?? []).length > 0 && (s.top_level_keys ?? []).every((k) => TOP.has(k) || k.startsWith('x-'));
    if (!complete) return; // fragments illustrating one attribute are not documents
    const id = `#${i} ${s.file} > ${s.section}`;
    test(`schema snippet ${id}`, (t) => {
      try {
        validateText(`snippet-${i}.yaml`, s.yaml);
        record(t, snippets, SNIPPETS_KNOWN, id, true, '');
      } catch (e) {
        record(t, snippets, SNIPPETS_KNOWN, id, false, (e as Error).message);
      }
    });
  });

  const stacks = composeFiles.filter((f) => /awesome-compose\/[^/]+\/compose\.ya?ml$|docker-compose\/pkg\/e2e\/testdata\/[^/]+\/compose\.yaml$/.test(f));
  for (const f of stacks) {
    const id = relative(CONFORMANCE, f);
    test(`load ${id}`, async (t) => {
      try {
        const m = await loadStack({ files: [f], env: { HOME: '/home/tsstack-test' } });
        record(t, loads, LOAD_KNOWN, id, Object.keys(m.services).length > 0, 'no services');
      } catch (e) {
        record(t, loads, LOAD_KNOWN, id, false, (e as Error).message);
      }
    });
  }

  test.after.always(() => {
    console.log(files.summary());
    console.log(snippets.summary());
    console.log(loads.summary());
  });
}
