// Hostile sysctls: a stack file or an OCI bundle from elsewhere asking for a sysctl the kernel keeps
// once for the whole host (kernel.core_pattern = a program run as root on the host), or a namespaced
// one in a namespace that is the host's. Refused at load (file, line, key; exit 2; nothing created) and
// by tsstack-runtime itself; the host's value is checked untouched. Namespaced ones still work.
import test from 'ava';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sysctlNamespace, sysctlProblem } from '../../src/stack/sysctls.js';
import { isolateNetwork } from '../cli/_netns.js';
import { assertNothingLeft, canRun, E2E, projectCli, world } from '../cli/_world.js';
import { caseKit, makeTemp, rmTemp, rt, runtimes, sharedRootfs } from '../runtime/_runtime.js';
import { missing, needs, skipWhen } from '../helpers/skip.js';

isolateNetwork();

// ---------------------------------------------------------------- the pure classifier

test('sysctlNamespace: Docker\'s namespaced keys, everything else global, odd names invalid', (t) => {
  for (const k of ['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced', 'fs.mqueue.msg_max', 'fs.mqueue.queues_max'])
    t.is(sysctlNamespace(k), 'ipc', k);
  for (const k of ['net.core.somaxconn', 'net.ipv4.ip_forward', 'net.ipv4.conf.br-1a2b.rp_filter', 'net.ipv6.conf.all.disable_ipv6'])
    t.is(sysctlNamespace(k), 'net', k);
  for (const k of ['kernel.core_pattern', 'kernel.printk_ratelimit_burst', 'kernel.modprobe', 'vm.overcommit_memory', 'fs.file-max', 'kernel.shm_next_id', 'kernel.domainname', 'kernel.hostname', 'kernel.msg', 'fs.mqueue', 'netfilter.nf_conntrack_max', 'kernel.sem_x'])
    t.is(sysctlNamespace(k), 'global', k);
  for (const k of ['', 'net', 'net.', '.net.core', 'net..core', 'net.ipv4/../../kernel/core_pattern', 'net/ipv4/ip_forward', 'net.ipv4.conf.eth0/1.rp_filter', 'net.core. somaxconn', 'net.core.x\0', 'net.core.x\n', 'fs.mqueue.../../kernel/core_pattern'])
    t.is(sysctlNamespace(k), k === 'net' ? 'global' : 'invalid', JSON.stringify(k));
});

test('sysctlProblem: net.* needs its own network namespace, the IPC ones their own IPC namespace', (t) => {
  t.is(sysctlProblem('net.core.somaxconn', {}), undefined);
  t.is(sysctlProblem('net.core.somaxconn', { network_mode: 'none' }), undefined);
  t.is(sysctlProblem('net.core.somaxconn', { network_mode: 'service:db' }), undefined, 'the peer\'s namespace, as Docker allows for container:');
  t.is(sysctlProblem('kernel.shmmax', { network_mode: 'host' }), undefined);
  t.is(sysctlProblem('kernel.shmmax', { ipc: 'shareable' }), undefined);
  t.regex(sysctlProblem('net.core.somaxconn', { network_mode: 'host' })!.message, /net\.core\.somaxconn cannot be set with network_mode: host/);
  t.regex(sysctlProblem('kernel.shmmax', { ipc: 'host' })!.message, /kernel\.shmmax cannot be set with ipc: host/);
  t.regex(sysctlProblem('fs.mqueue.msg_max', { ipc: 'host' })!.message, /ipc: host/);
  t.is(sysctlProblem('kernel.core_pattern', {})!.message,
    'sysctls: kernel.core_pattern is not namespaced; only net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.* may be set per container');
  t.regex(sysctlProblem('net/ipv4/ip_forward', {})!.message, /is not a sysctl name/);
});

// ---------------------------------------------------------------- a hostile stack file, through the CLI

const readSysctl = (k: string) => readFileSync(`/proc/sys/${k.replace(/\./g, '/')}`, 'utf8').trim();
/** A value unlike the host's, so a write would show. */
const other = (v: string) => String(Number(v.split(/\s+/)[0]) + 1);

const HOSTILE: { name: string; stack: string; line: number; key: RegExp; why: RegExp }[] = [
  { name: 'a host-global kernel.* key (map form)', line: 7, key: /services\.a\.sysctls\.kernel\.printk_ratelimit_burst/, why: /kernel\.printk_ratelimit_burst is not namespaced; only net\.\*, kernel\.shm\*, kernel\.msg\*, kernel\.sem, fs\.mqueue\.\* may be set per container/,
    stack: 'services:\n  a:\n    image: busybox:latest\n    command: ["true"]\n    sysctls:\n      net.core.somaxconn: 512\n      kernel.printk_ratelimit_burst: "BURST"\n' },
  { name: 'kernel.core_pattern (list form)', line: 6, key: /services\.a\.sysctls\[0\]/, why: /kernel\.core_pattern is not namespaced/,
    stack: 'services:\n  a:\n    image: busybox:latest\n    command: ["true"]\n    sysctls:\n      - kernel.core_pattern=|/tmp/pwn\n' },
  { name: 'a path trick to another /proc/sys file', line: 6, key: /services\.a\.sysctls/, why: /is not a sysctl name/,
    stack: 'services:\n  a:\n    image: busybox:latest\n    command: ["true"]\n    sysctls:\n      net.ipv4/../../kernel/printk_ratelimit_burst: "BURST"\n' },
  { name: 'net.* with network_mode: host (the host\'s network namespace)', line: 7, key: /services\.a\.sysctls\.net\.ipv4\.ip_forward/, why: /net\.ipv4\.ip_forward cannot be set with network_mode: host/,
    stack: 'services:\n  a:\n    image: busybox:latest\n    command: ["true"]\n    network_mode: host\n    sysctls:\n      net.ipv4.ip_forward: "1"\n' },
  { name: 'kernel.shmmax with ipc: host (the host\'s IPC namespace)', line: 7, key: /services\.a\.sysctls\.kernel\.shmmax/, why: /kernel\.shmmax cannot be set with ipc: host/,
    stack: 'services:\n  a:\n    image: busybox:latest\n    command: ["true"]\n    ipc: host\n    sysctls:\n      kernel.shmmax: "4096"\n' },
  { name: 'net.* through network_mode: service:X where X is on the host\'s network', line: 9, key: /services\.b\.sysctls/, why: /net\.core\.somaxconn cannot be set: service b shares the network namespace of service a, which is the host's/,
    stack: 'services:\n  a:\n    image: busybox:latest\n    network_mode: host\n  b:\n    image: busybox:latest\n    network_mode: service:a\n    sysctls:\n      net.core.somaxconn: "512"\n' },
];

for (const h of HOSTILE) {
  test.serial(`hostile stack file: ${h.name} is refused at load (file, line, key; exit 2), nothing created, host untouched`, async (t) => {
    const w = world();
    t.teardown(() => w.dispose());
    const burst = readSysctl('kernel.printk_ratelimit_burst');
    const pattern = readSysctl('kernel.core_pattern');
    const file = join(w.dir, 'stack.yaml');
    writeFileSync(file, h.stack.replace('BURST', other(burst)));
    const { T } = projectCli(w, file, 'sysctl');
    for (const argv of [['config', '-q'], ['up', '-d'], ['run', '--rm', 'a', 'true']]) {
      const r = await T(...argv);
      t.is(r.code, 2, `${argv.join(' ')}: ${r.err}`);
      t.true(r.err.includes(`${file}:${h.line}`), `${argv.join(' ')} names the file and line: ${r.err}`);
      t.regex(r.err, h.key);
      t.regex(r.err, h.why);
    }
    t.false(existsSync(join(w.root, 'containers')) && readdirSync(join(w.root, 'containers')).length > 0, 'no container created');
    t.is(readSysctl('kernel.printk_ratelimit_burst'), burst, 'host kernel.printk_ratelimit_burst untouched');
    t.is(readSysctl('kernel.core_pattern'), pattern, 'host kernel.core_pattern untouched');
  });
}

const serialE2e = needs(...E2E).serial;

serialE2e('namespaced sysctls still reach the container (its own IPC and network namespaces), the host keeps its values', async (t) => {
  const w = world();
  const file = join(w.dir, 'stack.yaml');
  const shmmni = readSysctl('kernel.shmmni'), somaxconn = readSysctl('net.core.somaxconn'), msgmax = readSysctl('fs.mqueue.msg_max');
  const want = { shmmni: String(Number(shmmni) - 1), somaxconn: other(somaxconn), msgmax: String(Number(msgmax) - 1) };
  writeFileSync(file, `services:\n  a:\n    image: busybox:latest\n    network_mode: none\n    command: ["sh", "-c", "cat /proc/sys/kernel/shmmni /proc/sys/net/core/somaxconn /proc/sys/fs/mqueue/msg_max | tr '\\\\n' ' '; echo; sleep 1000"]\n    stop_signal: SIGKILL\n    sysctls:\n      kernel.shmmni: "${want.shmmni}"\n      net.core.somaxconn: "${want.somaxconn}"\n      fs.mqueue.msg_max: "${want.msgmax}"\n`);
  const { T, logsUntil } = projectCli(w, file, 'sysctlok');
  try {
    await w.busybox('busybox:latest');
    const up = await T('up', '-d');
    t.is(up.code, 0, up.err);
    t.regex(await logsUntil('a', /\d+ \d+ \d+/), new RegExp(`${want.shmmni} ${want.somaxconn} ${want.msgmax}`));
    t.is(readSysctl('kernel.shmmni'), shmmni);
    t.is(readSysctl('net.core.somaxconn'), somaxconn);
    t.is(readSysctl('fs.mqueue.msg_max'), msgmax);
  } finally {
    await T('down');
  }
  assertNothingLeft(t, w);
});

// ---------------------------------------------------------------- a hostile bundle, straight to tsstack-runtime

const tsrt = runtimes().find((r) => r.name === 'tsstack-runtime')!;
const base = makeTemp('tsstack-sec-sysctl-');
test.after.always(() => rmTemp(base));
const bundleTest = skipWhen(missing(...E2E) ?? tsrt.skip, missing(...E2E) ?? tsrt.skip).serial;
const { prepare, assertClean } = caseKit(base, canRun ? sharedRootfs(base) : base);

const BAD_BUNDLES: { name: string; sysctl: Record<string, string>; ns?: (n: { type: string; path?: string }[]) => { type: string; path?: string }[]; error: RegExp }[] = [
  { name: 'a host-global key', sysctl: { 'kernel.printk_ratelimit_burst': 'BURST' }, error: /kernel\.printk_ratelimit_burst is not namespaced/ },
  { name: 'kernel.core_pattern', sysctl: { 'kernel.core_pattern': '|/tmp/pwn' }, error: /kernel\.core_pattern is not namespaced/ },
  { name: 'net.* without a network namespace', sysctl: { 'net.ipv4.ip_forward': '1' }, ns: (n) => n.filter((x) => x.type !== 'network'), error: /net\.ipv4\.ip_forward is not allowed in the host's network namespace/ },
  { name: 'net.* in a joined network namespace that is the host\'s', sysctl: { 'net.ipv4.ip_forward': '1' }, ns: (n) => n.map((x) => x.type === 'network' ? { type: 'network', path: '/proc/self/ns/net' } : x), error: /the network namespace \/proc\/self\/ns\/net is the host's/ },
  { name: 'kernel.shmmax without an IPC namespace', sysctl: { 'kernel.shmmax': '4096' }, ns: (n) => n.filter((x) => x.type !== 'ipc'), error: /kernel\.shmmax is not allowed in the host's ipc namespace/ },
  { name: 'a dotted path trick', sysctl: { 'net.ipv4.conf.lo..kernel.printk_ratelimit_burst': 'BURST' }, error: /not a sysctl name|bad sysctl name/ },
];

for (const b of BAD_BUNDLES) {
  bundleTest(`hostile bundle: tsstack-runtime refuses ${b.name}; the host value is untouched, nothing left`, (t) => {
    const burst = readSysctl('kernel.printk_ratelimit_burst'), pattern = readSysctl('kernel.core_pattern'), fwd = readSysctl('net.ipv4.ip_forward'), shmmax = readSysctl('kernel.shmmax');
    const sysctl = Object.fromEntries(Object.entries(b.sysctl).map(([k, v]) => [k, v.replace('BURST', other(burst))]));
    const c = prepare(tsrt, ['true'], (cfg) => {
      cfg.linux.sysctl = sysctl;
      if (b.ns) cfg.linux.namespaces = b.ns(cfg.linux.namespaces);
    });
    try {
      const res = rt(tsrt, c.stateRoot, ['run', '--bundle', c.bundle, c.id]);
      t.not(res.code, 0, 'refused');
      t.regex(res.stderr, b.error);
    } finally {
      // a runtime that lets these through writes the host's: put it back whatever happened
      for (const [k, v] of [['kernel.printk_ratelimit_burst', burst], ['kernel.core_pattern', pattern], ['kernel.shmmax', shmmax]] as const) {
        if (readSysctl(k) !== v) writeFileSync(`/proc/sys/${k.replace(/\./g, '/')}`, v);
      }
    }
    t.is(readSysctl('kernel.printk_ratelimit_burst'), burst);
    t.is(readSysctl('kernel.core_pattern'), pattern);
    t.is(readSysctl('net.ipv4.ip_forward'), fwd);
    t.is(readSysctl('kernel.shmmax'), shmmax);
    assertClean(t, c);
  });
}

bundleTest('bundle: namespaced sysctls in the container\'s own namespaces are written there, not on the host', (t) => {
  const fwd = readSysctl('net.ipv4.ip_forward'), shmmax = readSysctl('kernel.shmmax');
  const want = { fwd: fwd === '1' ? '0' : '1', shmmax: String(BigInt(shmmax) - 4096n) };
  const c = prepare(tsrt, ['sh', '-c', 'cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax /proc/sys/kernel/domainname'], (cfg) => {
    cfg.linux.sysctl = { 'net.ipv4.ip_forward': want.fwd, 'kernel.shmmax': want.shmmax, 'kernel.domainname': 'sec.example' };
  });
  const res = rt(tsrt, c.stateRoot, ['run', '--bundle', c.bundle, c.id]);
  t.is(res.code, 0, res.stderr);
  t.deepEqual(res.stdout.trim().split('\n'), [want.fwd, want.shmmax, 'sec.example']);
  t.is(readSysctl('net.ipv4.ip_forward'), fwd);
  t.is(readSysctl('kernel.shmmax'), shmmax);
  assertClean(t, c);
});
