// One test per mapping rule of `render kubernetes`: literal stack files → expected objects.
import test from 'ava';
import { find, kinds, render } from './_load.js';
import { loadText } from './_load.js';
import { objectYaml, renderKubernetes } from '../../../src/deploy/kubernetes/render.js';

test('services become Deployments, an owned named volume with one replica a StatefulSet, a waited-on one-shot (restart unset or "no") a Job', async (t) => {
  const r = await render(`
name: p
services:
  web: { image: nginx, depends_on: { migrate: { condition: service_completed_successfully } } }
  db: { image: postgres, volumes: [dbdata:/var/lib/postgresql/data] }
  migrate: { image: tool }
  forced: { image: x, x-kubernetes: { workload: StatefulSet } }
volumes: { dbdata: {} }
`, t.teardown);
  t.is(find(r.objects, 'Deployment', 'web').spec.replicas, 1);
  t.is(find(r.objects, 'Deployment', 'web').spec.strategy, undefined);
  t.is(find(r.objects, 'StatefulSet', 'db').spec.serviceName, 'db');
  t.is(find(r.objects, 'StatefulSet', 'forced').kind, 'StatefulSet');
  const job = find(r.objects, 'Job', 'migrate');
  t.is(job.spec.backoffLimit, 0);
  t.is(job.spec.template.spec.restartPolicy, 'Never');
  t.deepEqual(find(r.objects, 'StatefulSet', 'db').spec.template.spec.volumes, [{ name: 'data-0', persistentVolumeClaim: { claimName: 'dbdata' } }]);
});

test('a service others wait to complete but that restarts always is refused, naming the line', async (t) => {
  const e = await t.throwsAsync(render(`
name: p
services:
  web: { image: nginx, depends_on: { migrate: { condition: service_completed_successfully } } }
  migrate: { image: tool, restart: always }
`, t.teardown));
  t.regex(e!.message, /web waits for migrate to complete, but migrate is rendered as a Deployment/);
  t.is((e as { location?: { line?: number } }).location?.line, 4);
});

test('a named volume shared by two services stays a Deployment; replicas come from deploy.replicas', async (t) => {
  const r = await render(`
name: p
services:
  a: { image: x, volumes: [shared:/d], deploy: { replicas: 3 } }
  b: { image: x, volumes: [shared:/d] }
volumes: { shared: {} }
`, t.teardown);
  t.is(find(r.objects, 'Deployment', 'a').spec.replicas, 3);
  t.is(find(r.objects, 'Deployment', 'b').kind, 'Deployment');
  // a ReadWriteOnce claim: the old pod goes before the new one comes
  t.deepEqual(find(r.objects, 'Deployment', 'b').spec.strategy, { type: 'Recreate' });
});

test('depends_on conditions become init containers that wait, with the overridable image and a read-only account', async (t) => {
  const r = await render(`
name: p
x-kubernetes: { images: { kubectl: "registry.local/kubectl:1" } }
services:
  app:
    image: app
    depends_on:
      db: { condition: service_healthy }
      cache: { condition: service_started }
      seed: { condition: service_completed_successfully }
  db: { image: db, healthcheck: { test: ["CMD", "true"] } }
  cache: { image: redis }
  seed: { image: s, restart: "no" }
`, t.teardown);
  const init = find(r.objects, 'Deployment', 'app').spec.template.spec.initContainers;
  const token = [{ name: 'wait-token', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }];
  t.deepEqual(init, [
    { name: 'wait-cache', image: 'registry.local/kubectl:1', command: ['kubectl'], args: ['wait', '--for=create', 'deployment/cache', '--timeout=-1s'], volumeMounts: token },
    { name: 'wait-db', image: 'registry.local/kubectl:1', command: ['kubectl'], args: ['wait', '--for=condition=Ready', 'pod', '-l', 'tsstack.project=p,tsstack.service=db', '--timeout=-1s'], volumeMounts: token },
    { name: 'wait-seed', image: 'registry.local/kubectl:1', command: ['kubectl'], args: ['wait', '--for=condition=complete', 'job/seed', '--timeout=-1s'], volumeMounts: token },
  ]);
  // the token reaches the wait containers only
  const pod = find(r.objects, 'Deployment', 'app').spec.template.spec;
  t.is(pod.automountServiceAccountToken, false);
  t.is(pod.enableServiceLinks, false);
  t.is(pod.containers[0].volumeMounts, undefined);
  t.deepEqual(pod.volumes.map((v: { name: string }) => v.name), ['wait-token']);
  t.is(find(r.objects, 'Deployment', 'db').spec.template.spec.automountServiceAccountToken, false);
  t.is(find(r.objects, 'Deployment', 'app').spec.template.spec.serviceAccountName, 'p-wait');
  t.deepEqual(kinds(r.objects).slice(0, 3), ['ServiceAccount/p-wait', 'Role/p-wait', 'RoleBinding/p-wait']);
  t.true(find(r.objects, 'Role', 'p-wait').rules.every((x: { verbs: string[] }) => x.verbs.every((v) => ['get', 'list', 'watch'].includes(v))));
});

test('healthcheck becomes readiness and liveness probes; start_period/start_interval a startup probe', async (t) => {
  const r = await render(`
name: p
services:
  db:
    image: db
    healthcheck: { test: ["CMD-SHELL", "pg_isready"], interval: 10s, timeout: 2s, retries: 5, start_period: 30s, start_interval: 2s }
`, t.teardown);
  const c = find(r.objects, 'Deployment', 'db').spec.template.spec.containers[0];
  const base = { exec: { command: ['/bin/sh', '-c', 'pg_isready'] }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 5 };
  t.deepEqual(c.readinessProbe, base);
  t.deepEqual(c.livenessProbe, base);
  t.deepEqual(c.startupProbe, { ...base, periodSeconds: 2, failureThreshold: 15 + 5 });
});

test('ports/expose become a ClusterIP Service; published ports a NodePort Service by the extension; aliases extra Services; no ports a headless one', async (t) => {
  const r = await render(`
name: p
services:
  web:
    image: web
    ports: ["30080:80", "8443:443/tcp", { target: 9090, name: metrics, app_protocol: http }]
    expose: ["9000"]
    networks: { default: { aliases: [www] } }
    x-kubernetes: { publish: NodePort }
  worker: { image: w }
`, t.teardown);
  t.deepEqual(find(r.objects, 'Service', 'web').spec, {
    selector: { 'tsstack.project': 'p', 'tsstack.service': 'web' },
    type: 'ClusterIP',
    ports: [
      { name: 'tcp-80', port: 80, targetPort: 80, protocol: 'TCP' },
      { name: 'tcp-443', port: 443, targetPort: 443, protocol: 'TCP' },
      { name: 'tcp-9000', port: 9000, targetPort: 9000, protocol: 'TCP' },
      { name: 'metrics', port: 9090, targetPort: 9090, protocol: 'TCP', appProtocol: 'http' },
    ],
  });
  t.deepEqual(find(r.objects, 'Service', 'web-published').spec.ports, [
    { name: 'tcp-8443', port: 8443, targetPort: 443, protocol: 'TCP' },
    { name: 'tcp-30080', port: 30080, targetPort: 80, protocol: 'TCP', nodePort: 30080 },
  ].sort((a, b) => a.port - b.port));
  t.is(find(r.objects, 'Service', 'web-published').spec.type, 'NodePort');
  t.deepEqual(find(r.objects, 'Service', 'www').spec.selector, { 'tsstack.project': 'p', 'tsstack.service': 'web' });
  t.is(find(r.objects, 'Service', 'worker').spec.clusterIP, 'None');
  t.true(r.warnings.some((w) => w.path === 'services.web.ports[1]' && /outside the NodePort range/.test(w.message)));
  // a policy opens the published ports to the outside
  t.deepEqual(find(r.objects, 'NetworkPolicy', 'p-published-web').spec.ingress, [{ ports: [{ protocol: 'TCP', port: 80 }, { protocol: 'TCP', port: 443 }] }]);
});

test('networks become NetworkPolicies between members; internal means no egress but to members and DNS', async (t) => {
  const r = await render(`
name: p
services:
  web: { image: w, networks: [front, back] }
  db: { image: d, networks: [back] }
networks: { front: {}, back: { internal: true } }
`, t.teardown);
  const member = (n: string) => ({ 'tsstack.project': 'p', [`tsstack.network/${n}`]: 'true' });
  t.deepEqual(find(r.objects, 'NetworkPolicy', 'p-net-front').spec, { podSelector: { matchLabels: member('front') }, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: member('front') } }] }] });
  const eg = find(r.objects, 'NetworkPolicy', 'p-net-back-internal').spec;
  t.deepEqual(eg.podSelector.matchLabels, { ...member('back'), 'tsstack.egress': 'internal' });
  t.deepEqual(eg.policyTypes, ['Egress']);
  // db (only on the internal network) carries the egress label; web (also on front) does not
  t.is(find(r.objects, 'Deployment', 'db').spec.template.metadata.labels['tsstack.egress'], 'internal');
  t.is(find(r.objects, 'Deployment', 'web').spec.template.metadata.labels['tsstack.egress'], undefined);
});

test('a service only on internal networks that waits on others: a warning, or egress to the API server block the extension gives', async (t) => {
  const stack = (ext: string) => `
name: p
${ext}
services:
  a: { image: x, networks: [back], depends_on: [b] }
  b: { image: x, networks: [back] }
networks: { back: { internal: true } }
`;
  const w = await render(stack(''), t.teardown);
  t.true(w.warnings.some((x) => x.path === 'services.a.depends_on' && x.line === 5 && /apiServerCIDR/.test(x.message)));
  t.false(find(w.objects, 'NetworkPolicy', 'p-net-back-internal').spec.egress.some((e: { to: { ipBlock?: unknown }[] }) => e.to.some((x) => x.ipBlock)));
  const r = await render(stack('x-kubernetes: { apiServerCIDR: 10.96.0.1/32 }'), t.teardown);
  t.false(r.warnings.some((x) => x.path === 'services.a.depends_on'));
  t.deepEqual(find(r.objects, 'NetworkPolicy', 'p-net-back-internal').spec.egress[2], { to: [{ ipBlock: { cidr: '10.96.0.1/32' } }], ports: [{ protocol: 'TCP', port: 443 }, { protocol: 'TCP', port: 6443 }] });
});

test('named volumes become PersistentVolumeClaims, size and class from the extension, 1Gi otherwise', async (t) => {
  const r = await render(`
name: p
x-kubernetes: { volumes: { big: { size: 20Gi, storageClassName: fast } } }
services:
  a: { image: x, volumes: [big:/b, small:/s, /anon, { type: tmpfs, target: /t }] }
volumes: { big: {}, small: {} }
`, t.teardown);
  t.deepEqual(find(r.objects, 'PersistentVolumeClaim', 'big').spec, { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '20Gi' } }, storageClassName: 'fast' });
  t.deepEqual(find(r.objects, 'PersistentVolumeClaim', 'small').spec, { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } });
  const vols = find(r.objects, 'StatefulSet', 'a').spec.template.spec.volumes;
  t.deepEqual(vols.map((v: { name: string }) => v.name), ['data-0', 'data-1', 'anon-2', 'tmpfs-3']);
  t.deepEqual(vols[2], { name: 'anon-2', emptyDir: {} });
  t.deepEqual(vols[3], { name: 'tmpfs-3', emptyDir: { medium: 'Memory' } });
});

test('a bind mount is refused with its line unless the extension maps it; hostPath only when asked', async (t) => {
  const e = await t.throwsAsync(render(`
name: p
services:
  a:
    image: x
    volumes: ["./conf:/etc/conf:ro"]
`, t.teardown));
  t.regex(e!.message, /bind-mounts .*\/conf at \/etc\/conf/);
  t.is((e as { location?: { line?: number } }).location?.line, 6);
  t.regex((e as { hint?: string }).hint!, /x-kubernetes.binds/);
  const { model } = await loadText(`
name: p
services:
  a:
    image: x
    volumes: ["./conf:/etc/conf:ro", "/var/log:/logs", "./nginx.conf:/etc/nginx/nginx.conf:ro"]
    x-kubernetes: { binds: { /etc/conf: emptyDir, /logs: hostPath, /etc/nginx/nginx.conf: config } }
`, t.teardown, { 'nginx.conf': 'events {}\n' });
  const r = renderKubernetes(model, { readFile: (p) => (p.endsWith('/nginx.conf') ? Buffer.from('events {}\n') : undefined) });
  const spec = find(r.objects, 'Deployment', 'a').spec.template.spec;
  t.deepEqual(spec.volumes, [
    { name: 'bind-0', emptyDir: {} },
    { name: 'bind-1', hostPath: { path: '/var/log' } },
    { name: 'bind-2', configMap: { name: 'a-bind-2' } },
  ]);
  t.deepEqual(spec.containers[0].volumeMounts[2], { name: 'bind-2', mountPath: '/etc/nginx/nginx.conf', subPath: 'content', readOnly: true });
  t.deepEqual(find(r.objects, 'ConfigMap', 'a-bind-2').data, { content: 'events {}\n' });
  // a directory (or anything unreadable) cannot become a ConfigMap
  const dir = await loadText(`
name: p
services:
  a:
    image: x
    volumes: ["./d:/d"]
    x-kubernetes: { binds: { /d: config } }
`, t.teardown);
  t.throws(() => renderKubernetes(dir.model, { readFile: () => undefined }), { message: /only a file can be one/ });
});

test('secrets and configs become Secrets and ConfigMaps mounted at the same paths; credential-looking env values go to a Secret', async (t) => {
  const { model } = await loadText(`
name: p
services:
  a:
    image: x
    environment: { DB_PASSWORD: hunter2, MODE: prod, DB_PASSWORD_FILE: /run/secrets/token }
    secrets: [token]
    configs: [{ source: conf, target: /etc/app.conf, mode: 0440 }]
secrets: { token: { file: ./token.txt } }
configs: { conf: { content: "a=1" } }
`, t.teardown, { 'token.txt': 's3cret' });
  const r = renderKubernetes(model, { readFile: (p) => (p.endsWith('token.txt') ? Buffer.from('s3cret') : undefined) });
  t.deepEqual(find(r.objects, 'Secret', 'secret-token').data, { token: Buffer.from('s3cret').toString('base64') });
  t.deepEqual(find(r.objects, 'ConfigMap', 'config-conf').data, { conf: 'a=1' });
  const c = find(r.objects, 'Deployment', 'a').spec.template.spec.containers[0];
  t.deepEqual(c.volumeMounts, [
    { name: 'secret-0', mountPath: '/run/secrets/token', subPath: 'token', readOnly: true },
    { name: 'config-0', mountPath: '/etc/app.conf', subPath: 'conf', readOnly: true },
  ]);
  t.deepEqual(c.env, [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'a-env', key: 'DB_PASSWORD' } } }, { name: 'DB_PASSWORD_FILE', value: '/run/secrets/token' }, { name: 'MODE', value: 'prod' }]);
  t.deepEqual(find(r.objects, 'Secret', 'a-env').data, { DB_PASSWORD: Buffer.from('hunter2').toString('base64') });
  t.false(JSON.stringify(r.objects.filter((o) => o.kind === 'ConfigMap')).includes('hunter2'));
  t.false(JSON.stringify(r.objects).includes('"hunter2"'));
});

test('resources, user, read_only, capabilities, privileges, safe sysctls, command/entrypoint, labels', async (t) => {
  const r = await render(`
name: p
services:
  a:
    image: x
    entrypoint: ["/bin/run"]
    command: ["--fast"]
    user: "1000:1000"
    read_only: true
    cap_add: [NET_ADMIN]
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    sysctls: { net.ipv4.tcp_syncookies: 1, net.core.somaxconn: 1024 }
    labels: { tier: backend }
    deploy: { resources: { limits: { cpus: "0.5", memory: 128m }, reservations: { memory: 64m } } }
`, t.teardown);
  const d = find(r.objects, 'Deployment', 'a');
  const c = d.spec.template.spec.containers[0];
  t.deepEqual(c.command, ['/bin/run']);
  t.deepEqual(c.args, ['--fast']);
  t.deepEqual(c.resources, { limits: { cpu: '500m', memory: String(128 * 1024 * 1024) }, requests: { memory: String(64 * 1024 * 1024) } });
  t.deepEqual(c.securityContext, { runAsUser: 1000, runAsGroup: 1000, readOnlyRootFilesystem: true, capabilities: { add: ['NET_ADMIN'], drop: ['ALL'] }, allowPrivilegeEscalation: false });
  t.deepEqual(d.spec.template.spec.securityContext, { sysctls: [{ name: 'net.ipv4.tcp_syncookies', value: '1' }] });
  t.is(d.spec.template.metadata.labels.tier, 'backend');
  t.is(d.metadata.labels['tsstack.project'], 'p');
  t.true(r.warnings.some((w) => w.path === 'services.a.sysctls.net.core.somaxconn'));
});

test('env_file values are env too, credential-looking ones in the Secret; YAML 1.1 words stay strings in the output', async (t) => {
  const { model } = await loadText(`
name: p
services:
  a:
    image: x
    env_file: [app.env]
    environment: { FLAG: "yes", N: "010" }
`, t.teardown, { 'app.env': 'API_TOKEN=abc\nMODE=on\n' });
  const r = renderKubernetes(model);
  const env = find(r.objects, 'Deployment', 'a').spec.template.spec.containers[0].env;
  t.deepEqual(env, [
    { name: 'API_TOKEN', valueFrom: { secretKeyRef: { name: 'a-env', key: 'API_TOKEN' } } },
    { name: 'FLAG', value: 'yes' },
    { name: 'MODE', value: 'on' },
    { name: 'N', value: '010' },
  ]);
  const text = objectYaml(find(r.objects, 'Deployment', 'a'));
  for (const line of ['value: "yes"', 'value: "on"', 'value: "010"', 'name: "N"']) t.true(text.includes(line), line);
});

test('published ports become a LoadBalancer Service by the extension; without it they are warned about', async (t) => {
  const r = await render(`
name: p
services:
  lb: { image: x, ports: ["80:8080"], x-kubernetes: { publish: LoadBalancer } }
  plain: { image: x, ports: ["81:8080"] }
`, t.teardown);
  t.deepEqual(find(r.objects, 'Service', 'lb-published').spec, { selector: { 'tsstack.project': 'p', 'tsstack.service': 'lb' }, type: 'LoadBalancer', ports: [{ name: 'tcp-80', port: 80, targetPort: 8080, protocol: 'TCP' }] });
  t.false(r.objects.some((o) => o.metadata.name === 'plain-published'));
  t.true(r.warnings.some((w) => w.path === 'services.plain.ports[0]' && w.line === 5 && /reachable only inside/.test(w.message)));
});

test('keys with no Kubernetes form are warned about once each, at their line; false booleans are not', async (t) => {
  const r = await render(`
name: p
services:
  a:
    image: x
    init: false
    cgroup_parent: custom
    ulimits: { nofile: 10 }
    pid: host
    stop_signal: SIGINT
    logging: { driver: json-file }
    user: www-data
    security_opt: ["label:disable"]
    restart: on-failure
`, t.teardown);
  t.deepEqual(r.warnings.map((w) => `${w.line} ${w.path}`), [
    '7 services.a.cgroup_parent',
    '8 services.a.ulimits',
    '9 services.a.pid',
    '10 services.a.stop_signal',
    '11 services.a.logging',
    '12 services.a.user',
    '13 services.a.security_opt[0]',
    '14 services.a.restart',
  ]);
  t.true(r.warnings.every((w) => w.file === r.file));
});

test('hostile names: two services that map to one Kubernetes name are an error; a stack label cannot forge tsstack.* selector labels; an odd name becomes a valid one', async (t) => {
  const e = await t.throwsAsync(render(`
name: p
services:
  web_1: { image: x }
  web-1: { image: x }
`, t.teardown));
  t.regex(e!.message, /would both be the \w+ "web-1"/);
  const e2 = await t.throwsAsync(render(`
name: p
services:
  a: { image: x, networks: [n, n-internal] }
networks: { n: { internal: true }, n-internal: {} }
`, t.teardown));
  t.regex(e2!.message, /two NetworkPolicies would be named "p-net-n-internal"/);
  const r = await render(`
name: p
services:
  Api.v2_:
    image: x
    labels: { "tsstack.network/secret": "true", "tsstack.project": other, team: a }
  db: { image: d, networks: [secret] }
networks: { secret: {} }
`, t.teardown);
  const d = find(r.objects, 'Deployment', 'api-v2');
  t.is(d.spec.template.metadata.labels['tsstack.network/secret'], undefined);
  t.is(d.spec.template.metadata.labels['tsstack.project'], 'p');
  t.is(d.spec.template.metadata.labels['tsstack.service'], 'api-v2');
  t.is(d.spec.template.metadata.labels.team, 'a');
  t.is(d.spec.template.metadata.annotations['tsstack.network/secret'], 'true');
  t.deepEqual(find(r.objects, 'Service', 'api-v2').spec.selector, { 'tsstack.project': 'p', 'tsstack.service': 'api-v2' });
});

test('an external volume is claimed by its name and said to be needed; network_mode bridge is the default, host is warned about', async (t) => {
  const r = await render(`
name: p
services:
  a: { image: x, volumes: [ext:/d], network_mode: bridge }
  h: { image: x, network_mode: host }
volumes: { ext: { external: true, name: shared-data } }
`, t.teardown);
  t.false(r.objects.some((o) => o.kind === 'PersistentVolumeClaim'));
  t.deepEqual(find(r.objects, 'Deployment', 'a').spec.template.spec.volumes, [{ name: 'data-0', persistentVolumeClaim: { claimName: 'shared-data' } }]);
  t.true(r.warnings.some((w) => w.path === 'volumes.ext' && w.line === 6 && /PersistentVolumeClaim shared-data must exist/.test(w.message)));
  t.false(r.warnings.some((w) => w.path === 'services.a.network_mode'));
  t.is(find(r.objects, 'Service', 'a').spec.clusterIP, 'None');
  t.true(r.warnings.some((w) => w.path === 'services.h.network_mode' && /hostNetwork is never a default/.test(w.message)));
  t.false(r.objects.some((o) => o.kind === 'Service' && o.metadata.name === 'h'));
});

test('a secret over 1 MiB is refused: a Secret cannot hold it', async (t) => {
  const { model } = await loadText(`
name: p
services:
  a: { image: x, secrets: [big] }
secrets: { big: { file: ./big.bin } }
`, t.teardown);
  t.throws(() => renderKubernetes(model, { readFile: () => Buffer.alloc(1024 * 1024 + 1) }), { message: /secret big is 1048577 bytes: a Secret holds at most 1 MiB/ });
});
