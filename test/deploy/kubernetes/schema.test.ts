// Every rendered object of the examples and of the awesome-compose stacks (read in place) validates
// against the Kubernetes OpenAPI schemas shipped by kubernetes-models (types, enums, required fields).
import test from 'ava';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadStack } from '../../../src/stack/load.js';
import { renderKubernetes, type K8sObject } from '../../../src/deploy/kubernetes/render.js';
import type { StackModel } from '../../../src/model/types.js';
import { unknownFields } from './_strict.js';
import { yamlFilesBelow } from '../../helpers/yaml-files.js';

const SCHEMA: Record<string, string> = {
  'v1/ServiceAccount': 'IoK8sApiCoreV1ServiceAccount',
  'v1/Secret': 'IoK8sApiCoreV1Secret',
  'v1/ConfigMap': 'IoK8sApiCoreV1ConfigMap',
  'v1/PersistentVolumeClaim': 'IoK8sApiCoreV1PersistentVolumeClaim',
  'v1/Service': 'IoK8sApiCoreV1Service',
  'rbac.authorization.k8s.io/v1/Role': 'IoK8sApiRbacV1Role',
  'rbac.authorization.k8s.io/v1/RoleBinding': 'IoK8sApiRbacV1RoleBinding',
  'networking.k8s.io/v1/NetworkPolicy': 'IoK8sApiNetworkingV1NetworkPolicy',
  'batch/v1/Job': 'IoK8sApiBatchV1Job',
  'apps/v1/StatefulSet': 'IoK8sApiAppsV1StatefulSet',
  'apps/v1/Deployment': 'IoK8sApiAppsV1Deployment',
};

type Validate = ((d: unknown) => boolean) & { errors?: unknown };

async function problems(objects: K8sObject[]): Promise<string[]> {
  const out: string[] = [];
  for (const o of objects) {
    const id = SCHEMA[`${o.apiVersion}/${o.kind}`];
    if (!id) {
      out.push(`${o.kind}/${o.metadata.name}: no schema for ${o.apiVersion} ${o.kind}`);
      continue;
    }
    const { validate } = (await import(`kubernetes-models/_schemas/${id}`)) as { validate: Validate };
    // JSON round trip: what kubectl would read from the YAML
    if (!validate(JSON.parse(JSON.stringify(o)))) out.push(`${o.kind}/${o.metadata.name}: ${JSON.stringify(validate.errors)}`);
    for (const u of unknownFields(o)) out.push(`${o.kind}/${o.metadata.name}: ${u}`);
  }
  return out;
}

/** Bind mounts are refused by default: map each as a user would with x-kubernetes.binds (a file to a ConfigMap, a directory to an emptyDir). */
function mapBinds(m: StackModel): void {
  for (const s of Object.values(m.services)) {
    const binds = Object.fromEntries(s.volumes.filter((v) => v.type === 'bind').map((v) => [v.target, isFile(v.source) ? 'config' : 'emptyDir']));
    if (Object.keys(binds).length) s.extensions['x-kubernetes'] = { binds };
  }
}

const isFile = (p: string) => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
};
/** The stack's own files, read in place (secret files missing from a checkout read as a placeholder). */
const readFile = (p: string) => (isFile(p) ? readFileSync(p) : Buffer.from('placeholder'));

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const examples = readdirSync(join(repo, 'examples')).filter((d) => existsSync(join(repo, 'examples', d, 'stack.yaml')));
for (const ex of examples) {
  test(`examples/${ex}: every object validates`, async (t) => {
    const m = await loadStack({ files: [join(repo, 'examples', ex, 'stack.yaml')], env: {} });
    mapBinds(m);
    const r = renderKubernetes(m, { namespace: 'demo', readFile });
    t.true(r.objects.length > 0);
    t.deepEqual(await problems(r.objects), []);
  });
}

const CONFORMANCE = '/work/shared/conformance';
const awesome = `${CONFORMANCE}/awesome-compose`;
const stacks = existsSync(awesome) ? readdirSync(awesome).flatMap((d) => ['compose.yaml', 'compose.yml'].map((f) => join(awesome, d, f)).filter(existsSync)) : [];
if (!stacks.length) test.skip('awesome-compose stacks (not on this machine)', () => {});
for (const file of stacks) {
  test(`awesome-compose/${file.split('/').slice(-2, -1)[0]}: every object validates`, async (t) => {
    const m = await loadStack({ files: [file], env: {} });
    mapBinds(m);
    const r = renderKubernetes(m, { readFile });
    t.true(r.objects.length > 0);
    t.deepEqual(await problems(r.objects), []);
  });
}

test('the validation refuses a wrong type, a missing required field and an unknown field (it is not a no-op)', async (t) => {
  const ok = (): any => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x', labels: { a: 'b' } }, spec: { replicas: 1, selector: {}, template: { spec: { containers: [{ name: 'c', image: 'x', env: [{ name: 'A', value: '1' }] }] } } } });
  t.deepEqual(await problems([ok()]), []);
  const wrongType = ok();
  wrongType.spec.replicas = 'two';
  t.regex((await problems([wrongType])).join(), /replicas/);
  const missing = ok();
  delete missing.spec.template.spec.containers[0].name;
  t.regex((await problems([missing])).join(), /missingProperty.*name/);
  const unknown = ok();
  unknown.spec.template.spec.containers[0].env[0].valu = '1';
  t.deepEqual(await problems([unknown]), ['Deployment/x: Deployment.spec.template.spec.containers[0].env[0].valu: not a field of kubernetes-models/v1/EnvVar.d.ts']);
});

/** Conformance stacks the render refuses, on purpose: each with the reason it must give. */
const REFUSED: Record<string, RegExp> = {
  'docker-compose/pkg/e2e/testdata/TestConfigFromEnv/compose.yaml': /config from_env has no value \(its environment variable is unset\)/,
  'docker-compose/pkg/e2e/testdata/TestSecretFromEnv/compose.yaml': /secret secret has no value/,
  'docker-compose/pkg/e2e/testdata/TestSecretFromEnv/child/compose.yaml': /secret my-secret has no value/,
};

(existsSync(CONFORMANCE) ? test : test.skip)('every other conformance stack file that loads renders objects that validate (or is refused for its stated reason)', async (t) => {
  let loaded = 0;
  const refused: string[] = [];
  for (const file of yamlFilesBelow(CONFORMANCE).filter((f) => !f.startsWith(awesome))) {
    let m: StackModel;
    try {
      m = await loadStack({ files: [file], env: {} });
    } catch {
      continue; // not a stack file tsstack loads (schemas, fragments, negative cases): nothing to render
    }
    if (!Object.keys(m.services).length) continue;
    loaded++;
    mapBinds(m);
    const rel = file.slice(CONFORMANCE.length + 1);
    let objects: K8sObject[];
    try {
      objects = renderKubernetes(m, { readFile }).objects;
    } catch (e) {
      t.truthy(REFUSED[rel], `${rel}: ${(e as Error).message}`);
      if (REFUSED[rel]) t.regex((e as Error).message, REFUSED[rel]!, rel);
      t.is((e as { code?: string }).code, 'SPEC', rel);
      refused.push(rel);
      continue;
    }
    t.deepEqual(await problems(objects), [], rel);
  }
  t.deepEqual(refused.sort(), Object.keys(REFUSED).sort());
  t.true(loaded >= 40, `only ${loaded} conformance stacks loaded`);
  t.log(`${loaded} stack files loaded; ${loaded - refused.length} rendered and validated, ${refused.length} refused as expected`);
});
