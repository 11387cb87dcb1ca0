// tsstack-runtime with `linux.namespaces: user` and uidMappings/gidMappings, on
// bundles as the runtime tests make them: as root (maps written directly), then as
// an ordinary user the test makes (newuidmap/newgidmap for the subordinate ids).
// runc runs the same root cases when installed: what they check is standard.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { baseConfig, caseKit, makeTemp, rmTemp, rt, runtimes, sharedRootfs, uniqueId, writeBundle, TSSTACK_RUNTIME } from '../runtime/_runtime.js';
import { makeUser, rootlessTest } from './_user.js';

const SUB = 1_500_000;
const SIZE = 65536;
const base = makeTemp('tsstack-rl-rt-');
chmodSync(base, 0o755); // the ordinary user's case reads the rootfs too
const rootfs = sharedRootfs(base);
mkdirSync(join(rootfs, 'data'), { recursive: true }); // the container's root may not make it in a root filesystem that host root owns
test.after.always(() => rmTemp(base));
const { prepare, assertClean } = caseKit(base, rootfs);

const userns = (cfg: Record<string, any>, uid = SUB, gid = SUB, size = SIZE) => {
  cfg.linux.namespaces.push({ type: 'user' });
  cfg.linux.uidMappings = [{ containerID: 0, hostID: uid, size }];
  cfg.linux.gidMappings = [{ containerID: 0, hostID: gid, size }];
};

/** A host directory bound at /data, owned by the container's root (host SUB). */
function dataDir(owner = SUB): string {
  const d = join(base, uniqueId('data'));
  mkdirSync(d);
  chownSync(d, owner, owner);
  return d;
}
const bindData = (cfg: Record<string, any>, dir: string) => cfg.mounts.push({ destination: '/data', type: 'bind', source: dir, options: ['rbind'] });

for (const r of runtimes()) {
  if (r.skip) {
    test.skip(`${r.name}: user namespace [skipped: ${r.skip}]`, () => {});
    continue;
  }
  if (r.name === 'crun') continue; // crun's own cgroup quirks on this hybrid host (see _runtime.ts); runc is the reference

  test.serial(`${r.name}: a new user namespace is mapped; the container's root writes files as the mapped id`, (t) => {
    const data = dataDir();
    const c = prepare(r, ['sh', '-c', 'id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; touch /data/f; stat -c %u:%g /data/f'], (cfg) => {
      userns(cfg);
      bindData(cfg, data);
    });
    const res = rt(r, c.stateRoot, ['run', '--bundle', c.bundle, c.id]);
    t.is(res.code, 0, res.stderr);
    const out = res.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
    t.deepEqual(out, ['0', '0', `0 ${SUB} ${SIZE}`, `0 ${SUB} ${SIZE}`, '0:0']);
    const st = statSync(join(data, 'f'));
    t.deepEqual([st.uid, st.gid], [SUB, SUB], 'owned by the mapped id on the host');
    assertClean(t, c);
  });

  // not runc's: it refuses (sysfs cannot be mounted for a network namespace the container's user namespace does not own); tsstack-runtime binds the host's read-only
  if (r.name === 'tsstack-runtime') test.serial(`${r.name}: with a user namespace, a pinned network namespace is still joined`, (t) => {
    const pin = join(base, `netns-${uniqueId(r.name.slice(0, 4))}`);
    writeFileSync(pin, '');
    const made = spawnSync('unshare', [`--net=${pin}`, 'true'], { encoding: 'utf8' });
    t.is(made.status, 0, made.stderr);
    try {
      const c = prepare(r, ['readlink', '/proc/self/ns/net'], (cfg) => {
        userns(cfg);
        cfg.linux.namespaces = cfg.linux.namespaces.map((n: { type: string }) => (n.type === 'network' ? { type: 'network', path: pin } : n));
      });
      const res = rt(r, c.stateRoot, ['run', '--bundle', c.bundle, c.id]);
      t.is(res.code, 0, res.stderr);
      t.is(res.stdout.trim(), `net:[${statSync(pin).ino}]`);
      spawnSync('umount', [pin]);
      assertClean(t, c);
    } finally {
      spawnSync('umount', [pin]);
    }
  });

  test.serial(`${r.name}: exec enters the user namespace (and the user asked for)`, (t) => {
    const c = prepare(r, ['sleep', '30'], (cfg) => userns(cfg));
    t.is(rt(r, c.stateRoot, ['create', '--bundle', c.bundle, c.id]).code, 0);
    try {
      t.is(rt(r, c.stateRoot, ['start', c.id]).code, 0);
      const ex = rt(r, c.stateRoot, ['exec', '--user', '1000:1000', c.id, 'sh', '-c', 'id -u; cat /proc/self/uid_map']);
      t.is(ex.code, 0, ex.stderr);
      t.deepEqual(ex.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' ')), ['1000', `0 ${SUB} ${SIZE}`]);
      const pid = Number(JSON.parse(rt(r, c.stateRoot, ['state', c.id]).stdout).pid);
      t.is(statSync(`/proc/${pid}`).uid, SUB, 'the init runs as the mapped root on the host');
    } finally {
      rt(r, c.stateRoot, ['delete', '--force', c.id]);
    }
    assertClean(t, c);
  });
}

const tsstack = runtimes()[0]!;
const BAD: { name: string; patch: (cfg: Record<string, any>) => void; error: RegExp }[] = [
  { name: 'a user namespace without mappings', patch: (cfg) => cfg.linux.namespaces.push({ type: 'user' }), error: /a new user namespace needs linux\.uidMappings and linux\.gidMappings/ },
  { name: 'mappings without a user namespace', patch: (cfg) => (cfg.linux.uidMappings = cfg.linux.gidMappings = [{ containerID: 0, hostID: SUB, size: 1 }]), error: /only for a new user namespace/ },
  { name: 'an empty range', patch: (cfg) => { userns(cfg); cfg.linux.uidMappings[0].size = 0; }, error: /linux\.uidMappings\[0\]: the range 0\+0 → 1500000 is empty/ },
  { name: 'a range past the largest id', patch: (cfg) => { userns(cfg); cfg.linux.gidMappings[0].hostID = 4294967295; }, error: /linux\.gidMappings\[0\].*past the largest id/ },
];
for (const b of BAD) {
  (tsstack.skip ? test.skip : test.serial)(`tsstack-runtime: refuses ${b.name}`, (t) => {
    const id = uniqueId('bad');
    const cfg = baseConfig(rootfs, ['true'], `/tsstack-rt-${id}`);
    b.patch(cfg);
    const bundle = writeBundle(join(base, id), cfg, { invalid: true });
    const state = join(base, `state-${id}`);
    const res = rt(tsstack, state, ['create', '--bundle', bundle, id]);
    if (res.code === 0) rt(tsstack, state, ['delete', '--force', id]); // a runtime that took it must not leave it waiting
    t.is(res.code, 1);
    t.regex(res.stderr, b.error);
  });
}

rootlessTest.serial('tsstack-runtime as an ordinary user: subordinate ids mapped by newuidmap, no cgroup, bind-mount files are the user\'s', (t) => {
  const u = makeUser();
  try {
    const data = dataDir(u.uid);
    const state = join(base, `state-user-${u.uid}`);
    mkdirSync(state);
    chownSync(state, u.uid, u.gid);
    const id = uniqueId('user');
    const cfg = baseConfig(rootfs, ['sh', '-c', 'id -u; cat /proc/self/uid_map; touch /data/root-file; chown 33:33 /data; touch /data/x 2>&1 | grep -c denied; cat /proc/self/setgroups'], `/tsstack-rt-${id}`);
    for (const set of ['bounding', 'effective', 'permitted']) cfg.process.capabilities[set].push('CAP_CHOWN');
    cfg.linux.namespaces.push({ type: 'user' });
    cfg.linux.uidMappings = [{ containerID: 0, hostID: u.uid, size: 1 }, { containerID: 1, hostID: u.subStart, size: u.subCount }];
    cfg.linux.gidMappings = [{ containerID: 0, hostID: u.gid, size: 1 }, { containerID: 1, hostID: u.subStart, size: u.subCount }];
    bindData(cfg, data);
    const bundle = writeBundle(join(base, id), cfg);
    const res = u.run([TSSTACK_RUNTIME, '--root', state, 'run', '--bundle', bundle, id], {}, { cwd: base });
    t.is(res.status, 0, res.stderr + res.stdout);
    t.deepEqual(res.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' ')), ['0', `0 ${u.uid} 1`, `1 ${u.subStart} ${u.subCount}`, '1', 'allow'], 'root, mapped; no longer allowed in /data once it is another id\'s (no DAC override); newgidmap kept setgroups allowed');
    const f = statSync(join(data, 'root-file'));
    t.deepEqual([f.uid, f.gid], [u.uid, u.gid], "the container's root is the user on the host");
    t.deepEqual([statSync(data).uid, statSync(data).gid], [u.subStart + 32, u.subStart + 32], `container id 33 is the user's 33rd subordinate id (${u.subStart + 32}): ${JSON.stringify(res.stdout)}`);
    t.deepEqual(u.pids(), [], u.describe());
    t.is(readFileSync('/proc/self/mountinfo', 'utf8').includes(base + '/'), false, 'no mount left');
  } finally {
    u.remove();
  }
});
