// Gaps found auditing render against issue 18's list: deploy.update_config → a Deployment's strategy,
// and credentials inside a value (a URL with a password) kept out of the pod spec like credential names.
import test from 'ava';
import { find, render } from './_load.js';

test('update_config: stop-first (the default) is a rolling update with no surge, start-first one with none unavailable; parallelism 0 is all at once', async (t) => {
  const r = await render(`
name: p
services:
  stop: { image: x, deploy: { replicas: 4, update_config: { parallelism: 2 } } }
  start: { image: x, deploy: { replicas: 4, update_config: { parallelism: 3, order: start-first } } }
  all: { image: x, deploy: { replicas: 4, update_config: { parallelism: 0 } } }
  plain: { image: x, deploy: { replicas: 4 } }
`, t.teardown);
  t.deepEqual(find(r.objects, 'Deployment', 'stop').spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 2 } });
  t.deepEqual(find(r.objects, 'Deployment', 'start').spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 3, maxUnavailable: 0 } });
  t.deepEqual(find(r.objects, 'Deployment', 'all').spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: '100%' } });
  t.is(find(r.objects, 'Deployment', 'plain').spec.strategy, undefined);
  t.deepEqual(r.warnings.filter((w) => w.path.startsWith('services.')), []);
});

test('update_config keys with no Deployment form are one warning each, at their line; a ReadWriteOnce claim keeps Recreate and says so', async (t) => {
  const r = await render(`
name: p
services:
  a:
    image: x
    deploy:
      update_config:
        delay: 10s
        monitor: 5s
        max_failure_ratio: 0.2
        failure_action: rollback
  db:
    image: x
    deploy: { replicas: 2, update_config: { order: start-first } }
    volumes: [data:/d]
  job: { image: x, deploy: { update_config: { parallelism: 1 } } }
  after: { image: x, depends_on: { job: { condition: service_completed_successfully } } }
volumes: { data: {} }
`, t.teardown);
  const paths = r.warnings.map((w) => w.path);
  for (const k of ['delay', 'monitor', 'max_failure_ratio', 'failure_action']) t.true(paths.includes(`services.a.deploy.update_config.${k}`), k);
  const delay = r.warnings.find((w) => w.path === 'services.a.deploy.update_config.delay')!;
  t.is(delay.line, 8);
  t.true(delay.file!.endsWith('stack.yaml'));
  t.deepEqual(find(r.objects, 'Deployment', 'db').spec.strategy, { type: 'Recreate' });
  t.true(paths.includes('services.db.deploy.update_config.order'));
  t.is(find(r.objects, 'Job', 'job').kind, 'Job');
  t.true(paths.includes('services.job.deploy.update_config'));
});

test('update_config with a bad order is an error naming its line', async (t) => {
  const e = await t.throwsAsync(render(`
name: p
services:
  a: { image: x, deploy: { update_config: { order: sideways } } }
`, t.teardown));
  t.regex(e!.message, /order must be stop-first or start-first/);
});

test('a value that is a URL with a password goes to the Secret whatever its name; one without a password stays inline', async (t) => {
  const r = await render(`
name: p
services:
  a:
    image: x
    environment:
      DATABASE_URL: postgres://app:hunter2@db:5432/app
      BROKER: amqp://guest:guest@mq/
      HOME_URL: https://example.com/a@b
      PLAIN: http://user@host/
`, t.teardown);
  const env = find(r.objects, 'Deployment', 'a').spec.template.spec.containers[0].env;
  t.deepEqual(env, [
    { name: 'BROKER', valueFrom: { secretKeyRef: { name: 'a-env', key: 'BROKER' } } },
    { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'a-env', key: 'DATABASE_URL' } } },
    { name: 'HOME_URL', value: 'https://example.com/a@b' },
    { name: 'PLAIN', value: 'http://user@host/' },
  ]);
  t.false(JSON.stringify(find(r.objects, 'Deployment', 'a')).includes('hunter2'));
});

test('a published port in mode host is a warning at its key, not silently an ingress port', async (t) => {
  const r = await render(`
name: p
services:
  a:
    image: x
    x-kubernetes: { publish: NodePort }
    ports:
      - { target: 80, published: "30080", mode: host }
      - { target: 81, published: "30081" }
`, t.teardown);
  const w = r.warnings.filter((x) => x.path.startsWith('services.a.ports'));
  t.deepEqual(w.map((x) => x.path), ['services.a.ports[0].mode']);
  t.is(w[0]!.line, 8);
  t.deepEqual(find(r.objects, 'Service', 'a-published').spec.ports.map((p: any) => p.nodePort), [30080, 30081]);
});
