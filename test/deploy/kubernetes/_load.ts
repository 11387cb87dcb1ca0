// Loads a literal stack file (written to a temporary directory, removed by teardown) and renders it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadStack } from '../../../src/stack/load.js';
import { locator } from '../../../src/cli/commands/render.js';
import { renderKubernetes, type K8sObject, type Rendered } from '../../../src/deploy/kubernetes/render.js';
import type { StackModel } from '../../../src/model/types.js';

export async function loadText(text: string, teardown: (f: () => void) => void, extra: Record<string, string> = {}): Promise<{ model: StackModel; file: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-k8s-'));
  teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'stack.yaml');
  writeFileSync(file, text);
  for (const [n, c] of Object.entries(extra)) writeFileSync(join(dir, n), c);
  return { model: await loadStack({ files: [file], env: {}, cwd: dir }), file, dir };
}

export async function render(text: string, teardown: (f: () => void) => void, namespace?: string): Promise<Rendered & { file: string }> {
  const { model, file } = await loadText(text, teardown);
  return { ...renderKubernetes(model, { namespace, locate: locator(model), readFile: () => undefined }), file };
}

export function find(objs: K8sObject[], kind: string, name: string): any {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind}/${name} in ${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return o;
}

export const kinds = (objs: K8sObject[]) => objs.map((o) => `${o.kind}/${o.metadata.name}`);
