// Golden manifests of the examples: the whole YAML stream, byte for byte (TSSTACK_UPDATE_GOLDEN=1 rewrites them after a
// deliberate change; review the diff). Warnings are part of the golden too, without the machine's paths.
import test from 'ava';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadStack } from '../../../src/spec/load.js';
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
