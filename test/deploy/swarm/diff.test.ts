// The Swarm differ (pure): live objects (as the Engine API returns them) against
// the desired ones → a plan per object and field; nothing changed → nothing done.
import test from 'ava';
import { changedFields, deployOrder, describe, diff, serviceFields } from '../../../src/deploy/swarm/diff.js';
import { HASH_LABEL, OBJECT_LABEL, type Desired, type DesiredService, type JsonObject, type Live } from '../../../src/deploy/swarm/types.js';

function service(key: string, o: { env?: string[]; replicas?: number; hash?: string; secret?: string; deps?: string[] } = {}): DesiredService {
  const hash = o.hash ?? `h-${key}`;
  return {
    key, name: `p_${key}`, hash, dependsOn: o.deps ?? [],
    spec: {
      Name: `p_${key}`,
      Labels: { 'tsstack.project': 'p', [HASH_LABEL]: hash },
      TaskTemplate: {
        ContainerSpec: {
          Image: 'reg/app:1', Env: o.env ?? ['A=1'],
          ...(o.secret ? { Secrets: [{ File: { Name: 'token', UID: '0', GID: '0', Mode: 292 }, SecretName: o.secret }] } : {}),
        },
        Networks: [{ Target: 'p_back', Aliases: [key] }],
      },
      Mode: { Replicated: { Replicas: o.replicas ?? 1 } },
      EndpointSpec: { Mode: 'dnsrr' },
    },
  };
}

/** What the Swarm returns for a spec it was given: ids for networks and secrets, defaults of its own added. */
function asLive(s: DesiredService, id = `id-${s.key}`): Live['services'][number] {
  const spec = structuredClone(s.spec) as any;
  spec.TaskTemplate.ContainerSpec.Isolation = 'default';
  spec.TaskTemplate.ContainerSpec.Init = false;
  spec.TaskTemplate.ForceUpdate = 0;
  spec.TaskTemplate.Runtime = 'container';
  spec.TaskTemplate.Resources = { Limits: {}, Reservations: {} };
  spec.TaskTemplate.Networks = spec.TaskTemplate.Networks.map((n: JsonObject) => ({ ...n, Target: 'net-id-1' }));
  for (const r of spec.TaskTemplate.ContainerSpec.Secrets ?? []) r.SecretID = 'secret-id';
  return { id, name: s.name, version: 11, spec, labels: spec.Labels };
}

function desired(services: DesiredService[], extra: Partial<Desired> = {}): Desired {
  return { project: 'p', services, networks: [{ key: 'back', name: 'p_back', create: { Name: 'p_back' } }], secrets: [], configs: [], warnings: [], ...extra };
}

function live(services: Live['services'], extra: Partial<Live> = {}): Live {
  return { services, networks: [{ id: 'net-id-1', name: 'p_back', labels: {} }], secrets: [], configs: [], networkNames: { 'net-id-1': 'p_back' }, ...extra };
}

test('nothing changed: nothing to do, though the Swarm added defaults and ids', (t) => {
  const s = [service('web'), service('api', { secret: 'p_token_aaaa1111' })];
  const plan = diff(desired(s, { secrets: [{ kind: 'secret', key: 'token', name: 'p_token_aaaa1111', external: false, create: { Name: 'p_token_aaaa1111' } }] }), live(s.map((x) => asLive(x)), { secrets: [{ id: 'secret-id', name: 'p_token_aaaa1111', labels: { [OBJECT_LABEL]: 'token' } }] }));
  t.deepEqual(plan.actions, []);
  t.deepEqual(plan.unchanged, ['web', 'api']);
});

test('an environment edit and a scale: one update, named per field; the other service untouched', (t) => {
  const before = [service('web', { replicas: 2 }), service('api')];
  const after = [service('web', { replicas: 3, env: ['A=1', 'DEBUG=1'], hash: 'h2' }), service('api')];
  const plan = diff(desired(after), live(before.map((x) => asLive(x))));
  t.deepEqual(plan.actions.map(describe), ['update service web (changed: deploy.replicas 2→3, environment.DEBUG)']);
  t.deepEqual(plan.unchanged, ['api']);
  const a = plan.actions[0]!;
  t.true(a.kind === 'update-service' && a.id === 'id-web' && a.version === 11, 'an update in place, at the version read');
});

test('environment values are never printed, short scalars are', (t) => {
  t.deepEqual(changedFields({ 'environment.PASSWORD': 'old', 'deploy.replicas': '1', image: 'a'.repeat(40) }, { 'environment.PASSWORD': 'new', 'deploy.replicas': '2', image: 'b'.repeat(40) }),
    ['deploy.replicas 1→2', 'environment.PASSWORD', 'image']);
});

test('a hand edit on the Swarm is seen even when the hash label still matches', (t) => {
  const s = service('web');
  const l = asLive(s);
  (l.spec as any).TaskTemplate.ContainerSpec.Env = ['A=2'];
  t.deepEqual(diff(desired([s]), live([l])).actions.map(describe), ['update service web (changed: environment.A)']);
});

test('a changed secret: a new version is created, the services using it roll, the old version is removed', (t) => {
  const old = [service('web', { secret: 'p_token_aaaa1111' }), service('api')];
  const now = [service('web', { secret: 'p_token_bbbb2222', hash: 'h3' }), service('api')];
  const plan = diff(
    desired(now, { secrets: [{ kind: 'secret', key: 'token', name: 'p_token_bbbb2222', external: false, create: { Name: 'p_token_bbbb2222' } }] }),
    live(old.map((x) => asLive(x)), { secrets: [{ id: 'sec-old', name: 'p_token_aaaa1111', labels: { [OBJECT_LABEL]: 'token' } }] }),
  );
  t.deepEqual(plan.actions.map(describe), ['create secret p_token_bbbb2222', 'update service web (changed: secrets.token)', 'remove secret p_token_aaaa1111']);
});

test('first deploy: networks, then services; orphans of the project go; external objects the Swarm lacks are missing', (t) => {
  const plan = diff(
    desired([service('web')], { networks: [{ key: 'back', name: 'p_back', create: { Name: 'p_back' } }, { key: 'ext', name: 'shared' }] }),
    { services: [{ id: 'id-old', name: 'p_old', version: 3, spec: {}, labels: {} }], networks: [{ id: 'n0', name: 'p_gone', labels: {} }], secrets: [], configs: [], networkNames: { n0: 'p_gone' } },
  );
  t.deepEqual(plan.actions.map(describe), ['create network p_back (overlay)', 'create service web', 'remove service p_old', 'remove network p_gone']);
  t.deepEqual(plan.missing, ['network shared']);
});

test('serviceFields: network ids become names, secret ids are ignored, aliases sorted', (t) => {
  const s = service('web', { secret: 'p_t_1' });
  const f = serviceFields(asLive(s).spec, { 'net-id-1': 'p_back' });
  t.is(f['networks.p_back'], '["web"]');
  t.regex(f['secrets.token']!, /^p_t_1 /);
  t.is(f['deploy.replicas'], '1');
  t.is(f['deploy.endpoint_mode'], 'dnsrr');
});

test('deployOrder: dependencies first, level by level', (t) => {
  t.deepEqual(deployOrder([{ key: 'web', dependsOn: ['api'] }, { key: 'api', dependsOn: ['db'] }, { key: 'db', dependsOn: [] }, { key: 'cache', dependsOn: [] }]), [['cache', 'db'], ['api'], ['web']]);
});
