// --with-registry-auth (pure): which credentials go with which service, and the AuthConfig the Engine API takes.
import test from 'ava';
import { authConfig, serviceAuths } from '../../../src/deploy/swarm/registry-auth.js';
import type { Credentials } from '../../../src/engine/image/registry/auth.js';

test('each service gets the credentials of its own registry; registries without any are named once', (t) => {
  const asked: string[] = [];
  const load = (d: string): Credentials | undefined => {
    asked.push(d);
    return d === 'reg.example:5000' ? { username: 'alice', password: 'pw' } : undefined;
  };
  const r = serviceAuths({
    api: 'reg.example:5000/team/api@sha256:' + 'a'.repeat(64),
    worker: 'reg.example:5000/team/worker:2',
    cache: 'redis:7',
    db: 'postgres:16',
  }, load);
  t.deepEqual([...r.byService.keys()].sort(), ['api', 'worker']);
  t.deepEqual(r.byService.get('api'), { username: 'alice', password: 'pw', serveraddress: 'reg.example:5000' });
  t.deepEqual(r.without, ['docker.io']);
  t.deepEqual(asked.sort(), ['docker.io', 'reg.example:5000'], 'the config is read once per registry');
});

test('Docker Hub is addressed by its index URL; a token is sent as the registry token', (t) => {
  t.deepEqual(authConfig('docker.io', { username: 'bob', password: 'x' }), { username: 'bob', password: 'x', serveraddress: 'https://index.docker.io/v1/' });
  t.deepEqual(authConfig('ghcr.io', { token: 'tkn' }), { registrytoken: 'tkn', serveraddress: 'ghcr.io' });
});
