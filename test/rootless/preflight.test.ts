// What rootless mode needs from the host, judged before anything is made (preflight.ts): pure.
import test from 'ava';
import { preflight, type HostFacts } from '../../src/engine/rootless/preflight.js';

const ok: HostFacts = { user: 'alice', uid: 1000, newuidmap: true, newgidmap: true, subuid: [{ start: 100000, count: 65536 }], subgid: [{ start: 100000, count: 65536 }], maxUserNamespaces: 15000 };

test('a ready host: nothing to say', (t) => {
  t.deepEqual(preflight(ok), { errors: [], warnings: [] });
});

test('each missing piece is named with what to install or configure', (t) => {
  t.regex(preflight({ ...ok, newuidmap: false }).errors[0], /apt-get install uidmap/);
  t.regex(preflight({ ...ok, maxUserNamespaces: 0 }).errors[0], /user\.max_user_namespaces/);
  t.regex(preflight({ ...ok, unprivilegedClone: 0 }).errors[0], /kernel\.unprivileged_userns_clone=1/);
  t.regex(preflight({ ...ok, apparmorRestrict: 1 }).errors[0], /AppArmor/);
  t.deepEqual(preflight({ ...ok, unprivilegedClone: 1, apparmorRestrict: 0 }).errors, []);
  t.regex(preflight({ ...ok, kernel: '5.10.0-28-amd64' }).errors[0], /Linux 5\.10\.0-28-amd64 cannot mount overlayfs inside a user namespace/);
  t.deepEqual(preflight({ ...ok, kernel: '5.11.0' }).errors, []);
  t.deepEqual(preflight({ ...ok, kernel: '6.18.44-fc' }).errors, []);
});

test('no subordinate ids: a warning (one id mapped), and newuidmap is then not needed', (t) => {
  const p = preflight({ ...ok, subuid: [], subgid: [], newuidmap: false, newgidmap: false });
  t.deepEqual(p.errors, []);
  t.is(p.warnings.length, 1);
  t.regex(p.warnings[0], /alice has no subordinate ids in \/etc\/subuid and \/etc\/subgid.*usermod --add-subuids/);
  t.regex(preflight({ ...ok, subgid: [] }).warnings[0], /in \/etc\/subgid:/);
});
