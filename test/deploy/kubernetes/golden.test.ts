// Golden manifests of the examples: the whole YAML stream, byte for byte (TSSTACK_UPDATE_GOLDEN=1 rewrites them after a
// deliberate change; review the diff). Warnings are part of the golden too, without the machine's paths.
import test from 'ava';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadStack } from '../../../src/stack/load.js';
import { formatWarning, renderKubernetes, yamlStream } from '../../../src/deploy/kubernetes/render.js';
import { locator } from '../../../src/cli/commands/render.js';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const goldenDir = join(repo, 'test', 'deploy', 'kubernetes', 'golden');

for (const ex of readdirSync(join(repo, 'examples')).filter((d) => existsSync(join(repo, 'examples', d, 'stack.yaml'))).sort()) {
  test(`examples/${ex} renders its golden manifests`, async (t) => {
    const file = join(repo, 'examples', ex, 'stack.yaml');
    const m = await loadStack({ files: [file], env: {} });
    const r = renderKubernetes(m, { namespace: 'demo', locate: locator(m) });
    const text = `${r.warnings.map((w) => `# warning: ${formatWarning({ ...w, file: w.file?.replace(repo, '') })}\n`).join('')}${yamlStream(r.objects)}`;
    const golden = join(goldenDir, `${ex}.yaml`);
    if (process.env.TSSTACK_UPDATE_GOLDEN) writeFileSync(golden, text);
    t.is(text, readFileSync(golden, 'utf8'));
  });
}

// Every awesome-compose stack (read in place), bind mounts mapped to emptyDir and secret files read as a placeholder,
// so the goldens hold what the render makes of the stack files and nothing copied from the other files of those projects.
const AWESOME = '/work/shared/conformance/awesome-compose';
const stacks = existsSync(AWESOME)
  ? readdirSync(AWESOME).sort().flatMap((d) => ['compose.yaml', 'compose.yml'].map((f) => join(AWESOME, d, f)).filter(existsSync))
  : [];
if (!stacks.length) test.skip('awesome-compose goldens (the conformance set is not on this machine)', () => {});
for (const file of stacks) {
  const name = file.split('/').slice(-2, -1)[0]!;
  test(`awesome-compose/${name} renders its golden manifests`, async (t) => {
    const m = await loadStack({ files: [file], env: {} });
    for (const s of Object.values(m.services)) {
      const binds = Object.fromEntries(s.volumes.filter((v) => v.type === 'bind').map((v) => [v.target, 'emptyDir']));
      if (Object.keys(binds).length) s.extensions['x-kubernetes'] = { binds };
    }
    const r = renderKubernetes(m, { locate: locator(m), readFile: () => Buffer.from('placeholder') });
    const text = `${r.warnings.map((w) => `# warning: ${formatWarning({ ...w, file: w.file?.replace(`${AWESOME}/`, '') })}\n`).join('')}${yamlStream(r.objects)}`;
    const golden = join(goldenDir, 'awesome-compose', `${name}.yaml`);
    if (process.env.TSSTACK_UPDATE_GOLDEN) writeFileSync(golden, text);
    t.is(text, readFileSync(golden, 'utf8'));
  });
}
