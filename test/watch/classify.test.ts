import test from 'ava';
import { classify, isEmpty } from '../../src/watch/classify.js';
import { watchTargets } from '../../src/watch/targets.js';
import type { StackModel, ServiceSpec } from '../../src/model/types.js';

function svc(over: Partial<ServiceSpec>): ServiceSpec {
  return { environment: {}, labels: {}, ports: [], expose: [], volumes: [], tmpfs: [], depends_on: {}, networks: {}, cap_add: [], cap_drop: [], ulimits: {}, sysctls: {}, extra_hosts: [], dns: [], dns_search: [], group_add: [], profiles: [], secrets: [], configs: [], extensions: {}, ...over };
}

const model: StackModel = {
  name: 'p', workingDir: '/w', sourceFiles: ['/w/stack.yaml', '/w/.env'],
  services: {
    api: svc({ build: { context: '/w/api', args: {}, labels: {}, tags: [] } }),
    web: svc({
      image: 'busybox',
      develop: { watch: [
        { path: '/w/site', target: '/www', action: 'sync', ignore: ['drafts/', '*.tmp'] },
        { path: '/w/conf', target: '/etc/app', action: 'sync+restart' },
        { path: '/w/hooks', target: '/hooks', action: 'sync+exec', exec: { command: ['sh', '-c', 'reload'] } },
        { path: '/w/package.json', action: 'rebuild' },
      ] },
    }),
  },
  networks: {}, volumes: {}, secrets: {}, configs: {}, allProfiles: [], extensions: {}, warnings: [],
};
const targets = watchTargets(model);

test('a stack file or .env change reloads', (t) => {
  t.true(classify(['/w/stack.yaml'], targets).reload);
  t.true(classify(['/w/.env'], targets).reload);
  t.false(classify(['/w/other.yaml'], targets).reload);
});

test('a build-context change rebuilds that service only, honouring .dockerignore', (t) => {
  t.deepEqual(classify(['/w/api/main.go'], targets).rebuild, ['api']);
  t.deepEqual(classify(['/w/api/README.md'], targets, (_s, rel) => rel.endsWith('.md')).rebuild, []);
});

test('sync rules map host paths to container paths and honour ignore', (t) => {
  const a = classify(['/w/site/index.html', '/w/site/css/a.css', '/w/site/drafts/x.html', '/w/site/y.tmp'], targets);
  t.deepEqual(a.sync.map((s) => s.containerPath), ['/www/css/a.css', '/www/index.html']);
  t.deepEqual(a.restart, []);
  t.false(a.reload);
});

test('sync+restart restarts, sync+exec runs its command once per batch', (t) => {
  t.deepEqual(classify(['/w/conf/app.ini'], targets).restart, ['web']);
  const e = classify(['/w/hooks/a', '/w/hooks/b'], targets);
  t.is(e.sync.length, 2);
  t.deepEqual(e.exec.map((x) => x.command), [['sh', '-c', 'reload']]);
});

test('a rebuild rule wins over sync for the same service', (t) => {
  const a = classify(['/w/package.json', '/w/site/index.html'], targets);
  t.deepEqual(a.rebuild, ['web']);
  t.deepEqual(a.sync, []);
});

test('editor droppings are not changes', (t) => {
  t.true(isEmpty(classify(['/w/site/.index.html.swp', '/w/site/index.html~', '/w/site/4913'], targets)));
});
