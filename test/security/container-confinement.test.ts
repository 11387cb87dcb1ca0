// A hostile container against the host boundary, on the real kernel: what a default tsstack container
// (the engine's own OCI config) and a bundle like `runc spec` makes (no cgroup namespace) may not do.
// Each case names the attack; the host is checked untouched after it.
import test from 'ava';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { containerKit, leftovers, plainSpec, runToEnd } from '../engine-runtime/kit.js';
import { caseKit, rt, runtimes, sharedRootfs } from '../runtime/_runtime.js';
import { missing, skipWhen } from '../helpers/skip.js';

const tsrt = runtimes().find((r) => r.name === 'tsstack-runtime')!;
const skip = missing('root', 'busybox') ?? tsrt.skip;
const serial = skipWhen(skip, skip).serial;

const kit = containerKit('tsstack-sec-confine-');
const rootfs = sharedRootfs(kit.base);
const { prepare, assertClean } = caseKit(kit.base, rootfs);

// A hostile image: links meant to carry a volume target out of the root filesystem.
test.before(() => {
  if (skip) return;
  for (const dir of [rootfs, join(kit.base, 'busybox')]) {
    if (!existsSync(dir)) continue;
    symlinkSync('/etc', join(dir, 'abs-etc'));
    symlinkSync('/../../../../etc', join(dir, 'climb-etc'));
    symlinkSync('../../../../../etc', join(dir, 'rel-climb-etc'));
  }
});

const hostMountsAt = (p: string) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4] === p);

/** Runs a `runc spec`-style bundle (no cgroup namespace) to its end with tsstack-runtime. */
function runBundle(args: string[], patch: (c: Record<string, any>) => void = () => {}) {
  const c = prepare(tsrt, args, patch);
  return { c, res: rt(tsrt, c.stateRoot, ['run', '--bundle', c.bundle, c.id]) };
}

serial('no cgroup namespace (runc spec bundle): other containers\' cgroups are not visible, only its own', (t) => {
  // the victim: another container, created (its cgroup exists) while the attacker looks around
  const victim = prepare(tsrt, ['true']);
  const made = rt(tsrt, victim.stateRoot, ['create', '--bundle', victim.bundle, victim.id]);
  t.is(made.code, 0, made.stderr);
  try {
    const name = victim.cg.slice(1);
    const { c, res } = runBundle(['sh', '-c', `find /sys/fs/cgroup -maxdepth 2 -name '${name}' | sed 's/^/seen /'; ls /sys/fs/cgroup; cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max 2>/dev/null; cat /sys/fs/cgroup/unified/cgroup.procs /sys/fs/cgroup/cgroup.procs 2>/dev/null | sed 's/^/proc /'`], (cfg) => {
      cfg.linux.resources.memory = { limit: 40 << 20 };
      cfg.linux.resources.pids = { limit: 77 };
    });
    t.is(res.code, 0, res.stderr);
    t.notRegex(res.stdout, /^seen /m, `the victim's cgroup ${name} is hidden: ${res.stdout}`);
    if (existsSync('/sys/fs/cgroup/memory')) {
      t.regex(res.stdout, new RegExp(`^${40 << 20}$`, 'm'), 'its own memory cgroup is what /sys/fs/cgroup/memory shows');
      t.regex(res.stdout, /^77$/m, 'its own pids cgroup');
    }
    // only its own processes (sh, cat, sed…) are in the cgroup it sees; the host has far more
    const procs = res.stdout.split('\n').filter((l) => l.startsWith('proc '));
    t.true(procs.length < 6, `only its own processes: ${procs.join(',')}`);
    assertClean(t, c);
  } finally {
    rt(tsrt, victim.stateRoot, ['delete', '--force', victim.id]);
  }
  assertClean(t, victim);
});

serial('no cgroup namespace: cgroup v1 release_agent is neither visible nor writable', (t) => {
  const { c, res } = runBundle(['sh', '-c', 'find /sys/fs/cgroup -name release_agent | sed "s/^/agent /"; for f in /sys/fs/cgroup/*/release_agent /sys/fs/cgroup/*/notify_on_release; do [ -e "$f" ] && (echo /x > "$f") 2>/dev/null && echo "wrote $f"; done; true']);
  t.is(res.code, 0, res.stderr);
  t.notRegex(res.stdout, /^agent /m, res.stdout);
  t.notRegex(res.stdout, /^wrote /m, res.stdout);
  for (const h of existsSync('/sys/fs/cgroup/memory') ? readdirSync('/sys/fs/cgroup') : []) {
    const f = join('/sys/fs/cgroup', h, 'release_agent');
    if (existsSync(f)) t.not(readFileSync(f, 'utf8').trim(), '/x', `host ${f} untouched`);
  }
  assertClean(t, c);
});

serial('hostile image: a mount target through a link to /etc lands in the container\'s /etc, never the host\'s', (t) => {
  const src = join(kit.base, 'bind-src');
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'marker'), 'from the stack\n');
  const before = hostMountsAt('/etc').length;
  const { c, res } = runBundle(['sh', '-c', 'cat /etc/marker'], (cfg) => {
    cfg.mounts.push({ destination: '/abs-etc', type: 'bind', source: src, options: ['rbind', 'ro'] });
  });
  t.is(res.code, 0, res.stderr);
  t.regex(res.stdout, /from the stack/, 'mounted on the container\'s /etc');
  t.is(hostMountsAt('/etc').length, before, 'nothing mounted on the host\'s /etc');
  t.false(existsSync('/etc/marker'));
  assertClean(t, c);
  for (const link of ['/climb-etc', '/rel-climb-etc', '/climb-etc/sub']) {
    const bad = runBundle(['true'], (cfg) => { cfg.mounts.push({ destination: link, type: 'bind', source: src, options: ['rbind', 'ro'] }); });
    t.not(bad.res.code, 0, `${link}: refused`);
    t.regex(bad.res.stderr, /escapes the container root filesystem/, bad.res.stderr);
    t.is(hostMountsAt('/etc').length, before, `${link}: nothing mounted on the host's /etc`);
    assertClean(t, bad.c);
  }
});

/** Every attack of a default container, one shell line each: `<name> ok` means the attack succeeded. */
const ATTACKS: Record<string, string> = {
  'mount a filesystem': 'mount -t tmpfs none /mnt',
  'remount / read-write past the runtime': 'mount -o remount,rw /proc/sys',
  'write /proc/sysrq-trigger': 'echo h > /proc/sysrq-trigger',
  'write a host sysctl through /proc/sys': 'echo 11 > /proc/sys/kernel/printk_ratelimit_burst',
  'write /sys': 'echo 1 > /sys/kernel/uevent_helper',
  'read /proc/kcore': 'test -n "$(head -c 16 /proc/kcore)"',
  'read /proc/keys': 'test -n "$(head -c 1 /proc/keys)"',
  'read /proc/timer_list': 'test -n "$(head -c 1 /proc/timer_list)"',
  'read /proc/sched_debug': 'test -n "$(head -c 1 /proc/sched_debug)"',
  'read /proc/interrupts (other workloads\' activity)': 'test -n "$(head -c 1 /proc/interrupts)"',
  'open a raw host device (mknod /dev/mem)': 'mknod /tmp/mem c 1 1 && head -c 1 /tmp/mem >/dev/null',
  'open a raw host disk (mknod block 8:0)': 'mknod /tmp/sda b 8 0 && head -c 1 /tmp/sda >/dev/null',
  'open /dev/kmsg': 'mknod /tmp/kmsg c 1 11 && head -c 1 /tmp/kmsg >/dev/null',
  'unshare a mount namespace': 'unshare -m true',
  'unshare a network namespace': 'unshare -n true',
  'unshare a pid namespace': 'unshare -p -f true',
  'write cgroup v1 release_agent': 'for f in /sys/fs/cgroup/release_agent /sys/fs/cgroup/*/release_agent; do [ -e "$f" ] && echo /x > "$f" && exit 0; done; exit 1',
  'write its own cgroup limits': 'echo max > /sys/fs/cgroup/pids.max || echo max > /sys/fs/cgroup/pids/pids.max',
  'load a kernel module': 'test -w /proc/sys/kernel/modprobe',
};
const ATTACK_SCRIPT = Object.entries(ATTACKS).map(([name, cmd]) => `( ${cmd} ) >/dev/null 2>&1 && echo "ATTACK ${name}: ok"`).join('\n') + '\necho done';

serial('default container: mount, sysrq, host sysctls, /sys, masked /proc files, raw devices, unshare, release_agent all fail', async (t) => {
  const burst = readFileSync('/proc/sys/kernel/printk_ratelimit_burst', 'utf8');
  const { c } = kit.engine(t, 'tsstack-runtime');
  const r = await runToEnd(c, plainSpec('hostile', ['sh', '-c', ATTACK_SCRIPT]));
  t.is(r.code, 0, r.out.join('\n'));
  t.deepEqual(r.out.filter((l) => l.startsWith('ATTACK')), [], 'every attack refused');
  t.is(r.out.at(-1), 'done');
  t.is(readFileSync('/proc/sys/kernel/printk_ratelimit_burst', 'utf8'), burst, 'the host sysctl is untouched');
  await c.remove(r.id);
  t.deepEqual(leftovers(c, r.id), []);
});

serial('default container: other containers\' cgroups are not visible; its devices are the standard ones', async (t) => {
  const { c } = kit.engine(t, 'tsstack-runtime');
  const victim = await c.create(plainSpec('victim', ['sh', '-c', 'trap "exit 0" TERM; sleep 1000 & wait']));
  await c.start(victim.id);
  try {
    const r = await runToEnd(c, plainSpec('looker', ['sh', '-c', `find /sys/fs/cgroup -name '*${victim.id.slice(0, 12)}*' | sed 's/^/seen /'; ls /dev | tr '\\n' ' '; echo`]));
    t.is(r.code, 0);
    t.deepEqual(r.out.filter((l) => l.startsWith('seen')), [], 'the victim is hidden');
    const dev = r.out.at(-1)!.trim().split(' ').sort();
    for (const d of ['full', 'null', 'ptmx', 'pts', 'random', 'shm', 'tty', 'urandom', 'zero']) t.true(dev.includes(d), `/dev/${d}: ${dev}`);
    for (const d of ['mem', 'kmsg', 'sda', 'vda', 'port', 'kcore']) t.false(dev.includes(d), `no /dev/${d}`);
    await c.remove(r.id);
  } finally {
    await c.remove(victim.id, { force: true });
  }
  t.deepEqual(leftovers(c, victim.id), []);
});

serial('hostile image: a volume target /abs-etc -> /etc binds over the container\'s /etc; /climb-etc -> /../../../../etc is refused', async (t) => {
  const { c } = kit.engine(t, 'tsstack-runtime');
  const src = join(kit.base, 'vol-src');
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'marker'), 'volume\n');
  const before = hostMountsAt('/etc').length;
  const ok = await runToEnd(c, plainSpec('abs', ['cat', '/etc/marker'], { mounts: [{ type: 'bind', source: src, target: '/abs-etc', readOnly: true }] }));
  t.is(ok.code, 0);
  t.deepEqual(ok.out, ['volume']);
  t.is(hostMountsAt('/etc').length, before);
  await c.remove(ok.id);
  const bad = await c.create(plainSpec('climb', ['true'], { mounts: [{ type: 'bind', source: src, target: '/climb-etc', readOnly: true }] }));
  await t.throwsAsync(c.start(bad.id), { message: /escapes the container root filesystem/ });
  t.is(hostMountsAt('/etc').length, before, 'nothing mounted on the host\'s /etc');
  t.false(existsSync('/etc/marker'));
  await c.remove(bad.id, { force: true });
  t.deepEqual(leftovers(c, bad.id), []);
});

serial('hostile image: working_dir through a link climbing out stays inside the container', async (t) => {
  const { c } = kit.engine(t, 'tsstack-runtime');
  const r = await runToEnd(c, plainSpec('wd', ['sh', '-c', 'pwd -P; touch here-by-container && echo touched'], { cwd: '/climb-etc/wd-made' }));
  t.is(r.code, 0, r.out.join('\n'));
  t.is(r.out[0], '/etc/wd-made', 'resolved in the container\'s root');
  t.false(existsSync('/etc/wd-made'), 'nothing made in the host\'s /etc');
  await c.remove(r.id);
  t.deepEqual(leftovers(c, r.id), []);
});

serial('engine API past the loader: net.* sysctls for a container on the host\'s network are refused by the runtime', async (t) => {
  const { c } = kit.engine(t, 'tsstack-runtime');
  const fwd = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
  const x = await c.create(plainSpec('hostnet', ['true'], { networkMode: 'host', sysctls: { 'net.ipv4.ip_forward': fwd.trim() === '1' ? '0' : '1' } }));
  await t.throwsAsync(c.start(x.id), { message: /net\.ipv4\.ip_forward is not allowed in the host's network namespace/ });
  t.is(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8'), fwd, 'the (test\'s) host value is untouched');
  await c.remove(x.id, { force: true });
  t.deepEqual(leftovers(c, x.id), []);
});
