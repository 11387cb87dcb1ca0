// The loader's model is parsed once: reconcile, the printer and the other targets read typed values,
// and `tsstack config` still prints what Compose prints.
import test from 'ava';
import { loadStack } from '../../src/stack/load.js';
import { renderStack } from '../../src/stack/render.js';
import { desiredState } from '../../src/reconcile/desired.js';
import { project } from './helpers.js';

async function load(t: import('ava').ExecutionContext, yaml: string) {
  const dir = project(t, { 'compose.yaml': yaml });
  return loadStack({ projectDir: dir, env: {} });
}

test('published ports are numeric ranges in the model, strings in config, one port per replica', async (t) => {
  const m = await load(t, `
name: p
services:
  web:
    image: nginx
    scale: 2
    ports: ["127.0.0.1:9000-9001:80", "8080:8080/udp", { target: 443, published: "8443" }, "90"]
`);
  t.deepEqual(m.services.web!.ports.map((p) => p.published), [{ start: 9000, end: 9001 }, { start: 8080, end: 8080 }, { start: 8443, end: 8443 }, undefined]);
  const yaml = renderStack(m, 'yaml');
  t.regex(yaml, /published: 9000-9001\n/);
  t.regex(yaml, /published: "8443"\n/);
  const d = desiredState(m, {});
  t.deepEqual(d.services.web!.containers.map((c) => c.config.ports.map((p) => p.hostPort)), [[9000, 8080, 8443, 0], [9001, 8080, 8443, 0]]);
});
