// The config.json of a RUN step validates against the OCI runtime-spec schema.
import test from 'ava';
import { buildRunSpec } from '../../../src/engine/image/build/run-step.js';
import { haveSchemas, validators } from '../../runtime/_schema.js';
import { skipWhen } from '../../helpers/skip.js';

skipWhen(!haveSchemas, '../shared absent')('RUN step config.json is valid OCI; host network unless --network=none', (t) => {
  const base = {
    rootfs: '/tmp/x/rootfs', args: ['/bin/sh', '-c', 'true'], env: ['PATH=/bin'], cwd: '/', uid: 0, gid: 0, additionalGids: [], home: '/root',
    binds: [{ source: '/etc/resolv.conf', target: '/etc/resolv.conf' }],
    mounts: [{ type: 'bind' as const, source: '/var/cache/x', target: '/cache' }, { type: 'tmpfs' as const, target: '/t', size: 1 << 20 }],
  };
  for (const noNetwork of [false, true]) {
    const spec = buildRunSpec({ ...base, network: noNetwork ? 'new' : 'host' });
    const r = validators().config(spec);
    t.true(r.ok, r.errors);
    const ns = (spec.linux as { namespaces: { type: string }[] }).namespaces.map((n) => n.type);
    t.is(ns.includes('network'), noNetwork);
    const m = (spec.mounts as { destination: string; options: string[] }[]).find((x) => x.destination === '/etc/resolv.conf');
    t.true(m!.options.includes('ro'), 'host files are bound read-only');
  }
});
