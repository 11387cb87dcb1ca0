// The real apply path against a real cluster: only when KUBECONFIG points to one that answers
// (no API server can run on the build machine). Otherwise the test is registered as skipped with
// the reason. It works in namespace TSSTACK_TEST_K8S_NAMESPACE (default: `default`), under a project
// name of its own, and removes everything it made (--rm), checking nothing of it is left.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../src/cli/main.js';
import type { Io } from '../../../src/cli/context.js';
import { Cluster } from '../../../src/deploy/kubernetes/cluster.js';
import { projectSelector } from '../../../src/deploy/kubernetes/apply-plan.js';
import { skipWhen } from '../../helpers/skip.js';

const NAMESPACE = process.env.TSSTACK_TEST_K8S_NAMESPACE ?? 'default';

async function why(): Promise<string | undefined> {
  if (!process.env.KUBECONFIG) return 'KUBECONFIG does not point to a cluster';
  try {
    const c = Cluster.load(undefined);
    const answer = await Promise.race([c.namespaceExists(NAMESPACE), new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no answer in 5s')), 5000).unref())]);
    return answer ? undefined : `namespace ${NAMESPACE} does not exist in the cluster of KUBECONFIG`;
  } catch (e) {
    return `the cluster of KUBECONFIG is not reachable (${(e as Error).message.split('\n')[0]})`;
  }
}

const reason = await why();

skipWhen(reason, reason).serial('deploy --to kubernetes on a real cluster: apply, wait, an unchanged plan, --rm leaves nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-k8s-real-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const project = `tsstack-test-${process.pid}`;
  writeFileSync(join(dir, 'stack.yaml'), `name: ${project}
services:
  web:
    image: busybox:1.36
    command: ["httpd", "-f", "-p", "8080"]
    expose: ["8080"]
    depends_on: { init: { condition: service_completed_successfully } }
  init:
    image: busybox:1.36
    command: ["true"]
`);
  const run = async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const io: Io = { out: (s) => out.push(s), err: (s) => err.push(s), tty: false, env: { ...process.env, TSSTACK_NO_CACHE: '1', TSSTACK_ROOT: join(dir, 'root') }, cwd: dir } as Io;
    const code = await main(['-f', 'stack.yaml', 'deploy', '--to', 'kubernetes', '--namespace', NAMESPACE, ...argv], io);
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const cluster = Cluster.load(undefined);
  t.teardown(async () => {
    await run('--rm', '--volumes');
  });
  const up = await run('--wait');
  t.is(up.code, 0, up.err);
  t.regex(up.err, /ready Deployment\/web/);
  const plan = await run('--plan');
  t.is(plan.code, 0, plan.err);
  t.is(plan.out, `no changes: ${project} in namespace ${NAMESPACE} is up to date`);
  t.is((await run('--rm')).code, 0);
  for (const kind of [['apps/v1', 'Deployment'], ['batch/v1', 'Job'], ['v1', 'Service']] as const) {
    t.deepEqual(await cluster.list(kind[0], kind[1], NAMESPACE, projectSelector(project)), [], kind[1]);
  }
});
