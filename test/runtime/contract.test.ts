// One set of bundles run under every installed OCI runtime (tsstack-runtime,
// runc, crun), checking the same observable behaviour in each.
import test, { type ExecutionContext } from 'ava';
import { skipWhen } from '../helpers/skip.js';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  baseConfig, cgroupLeftovers, makeTemp, mountsUnder, rmTemp, rt, rtAsync, runtimes, sharedRootfs, uniqueId, writeBundle,
  type Runtime,
  caseKit, type Case,
} from './_runtime.js';

const base = makeTemp('tsstack-rt-contract-');
const rootfs = sharedRootfs(base);
test.after.always(() => rmTemp(base));

const { prepare, assertClean } = caseKit(base, rootfs);

async function waitStatus(r: Runtime, c: Case, want: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const s = rt(r, c.stateRoot, ['state', c.id]);
    if (s.code === 0 && JSON.parse(s.stdout).status === want) return;
    await new Promise((d) => setTimeout(d, 25));
  }
  throw new Error(`${c.id} never became ${want}`);
}

const IDENTITY = [
  'echo "pid=$$"', 'echo "host=$(hostname)"', 'echo "ids=$(id -u):$(id -g):$(id -G)"', 'echo "cwd=$(pwd)"',
  'echo "foo=$FOO"', 'echo "nofile=$(ulimit -Sn):$(ulimit -Hn)"', "grep -E '^Cap(Eff|Prm|Bnd|Amb)' /proc/self/status",
  "awk '{print \"mnt \" $5 \" \" $6}' /proc/self/mountinfo", 'echo "keys=$(wc -c < /proc/keys)"',
  'echo "firmware=$(ls -A /sys/firmware | wc -l)"', 'echo "oom=$(cat /proc/self/oom_score_adj)"',
  "grep NoNewPrivs /proc/self/status", 'echo "fwd=$(cat /proc/sys/net/ipv4/ip_forward)"', 'echo "procsys=$(touch /proc/sys/kernel/x 2>/dev/null && echo rw || echo ro)"',
].join('; ');

// crun raises RLIMIT_MEMLOCK for its eBPF device filter; a machine without CAP_SYS_RESOURCE refuses that.
const raiseMemlock = spawnSync('prlimit', ['--memlock=unlimited:unlimited', 'true']).status === 0;

for (const r of runtimes()) {
  const title = (what: string) => `${r.name}: ${what}`;
  if (r.skip) {
    test.skip(`${title('contract')} [skipped: ${r.skip}]`, () => {});
    continue;
  }

  test.serial(title('pid 1, hostname, user, env, cwd, rlimits, capabilities, mounts and masked paths'), (t) => {
    const c = prepare(r, ['sh', '-c', IDENTITY], (cfg) => {
      cfg.hostname = 'contract-box';
      cfg.process.user = { uid: 1000, gid: 1000, additionalGids: [10, 20] };
      cfg.process.cwd = '/tmp';
      cfg.process.env.push('FOO=bar baz');
      cfg.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1234, hard: 2345 }];
      cfg.process.oomScoreAdj = 500;
      cfg.linux.sysctl = { 'net.ipv4.ip_forward': '1' };
      cfg.process.capabilities.inheritable = cfg.process.capabilities.bounding; // ambient needs inheritable
    });
    const res = rt(r, c.stateRoot, ['run', '--bundle', c.bundle, c.id]);
    t.is(res.code, 0, res.stderr);
    const out = res.stdout;
    t.regex(out, /^pid=1$/m);
    t.regex(out, /^host=contract-box$/m);
    t.regex(out, /^ids=1000:1000:1000 10 20$/m);
    t.regex(out, /^cwd=\/tmp$/m);
    t.regex(out, /^foo=bar baz$/m);
    t.regex(out, /^nofile=1234:2345$/m);
    // AUDIT_WRITE(29), KILL(5), NET_BIND_SERVICE(10); ambient keeps them for uid 1000.
    t.regex(out, /^CapEff:\s+0000000020000420$/m);
    t.regex(out, /^CapBnd:\s+0000000020000420$/m);
    t.regex(out, /^CapAmb:\s+0000000020000420$/m);
    for (const m of ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/proc/keys', '/sys/firmware'])
      t.regex(out, new RegExp(`^mnt ${m.replace(/\//g, '\\/')} `, 'm'), `mount ${m}`);
    t.regex(out, /^mnt \/sys ro,/m);
    t.regex(out, /^keys=0$/m, '/proc/keys is masked');
    t.regex(out, /^firmware=0$/m, '/sys/firmware is masked');
    t.regex(out, /^procsys=ro$/m, '/proc/sys is read-only');
    t.regex(out, /^oom=500$/m, 'oomScoreAdj');
    t.regex(out, /^NoNewPrivs:\s+1$/m, 'noNewPrivileges');
    t.regex(out, /^fwd=1$/m, 'sysctl');
    assertClean(t, c);
  });

  test.serial(title('a cgroup namespace is rooted at the container cgroup, whose limits /sys/fs/cgroup shows'), (t) => {
    const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
    const limitFile = v2 ? '/sys/fs/cgroup/memory.max' : '/sys/fs/cgroup/memory/memory.limit_in_bytes';
    const c = prepare(r, ['sh', '-c', `grep -E '^[0-9]+:(memory)?:' /proc/self/cgroup; cat ${limitFile}`], (cfg) => {
      cfg.linux.namespaces.push({ type: 'cgroup' });
      cfg.linux.resources.memory = { limit: 48 << 20 };
    });
    const res = rt(r, c.stateRoot, ['run', '--bundle', c.bundle, c.id]);
    t.is(res.code, 0, res.stderr);
    const lines = res.stdout.trim().split('\n');
    t.true(lines.length >= 2, res.stdout);
    for (const l of lines.slice(0, -1)) t.regex(l, /^\d+:(memory)?:\/$/, 'the container sees its cgroup as /');
    t.is(lines[lines.length - 1], String(48 << 20));
    assertClean(t, c);
  });

  skipWhen(!existsSync('/sys/fs/cgroup/unified/cgroup.procs') || (r.name === 'crun' && !raiseMemlock), !existsSync('/sys/fs/cgroup/unified/cgroup.procs') ? 'no cgroup2 hierarchy on this host' : 'crun raises RLIMIT_MEMLOCK for its eBPF device filter, which this machine refuses (no CAP_SYS_RESOURCE)')
    .serial(title('on a pure cgroup v2 layout (cgroup2 at /sys/fs/cgroup in a private mount namespace)'), (t) => {
    // This host binds its controllers to v1, so the v2 tree holds no limits
    // here: this checks detection, placement, the cgroup2 mount, the device
    // filter and cleanup.
    // Device rules on v2 are an eBPF program on the cgroup: /dev/zero is always
    // allowed, the extra node (c 1:1) is denied by "deny all".
    const script = "grep '^0::' /proc/self/cgroup; grep -x 1 /sys/fs/cgroup/cgroup.procs; ls /sys/fs/cgroup/cgroup.controllers; " +
      'head -c1 /dev/zero | wc -c; head -c1 /dev/extra 2>&1 | grep -o "Operation not permitted"';
    const c = prepare(r, ['sh', '-c', script], (cfg) => {
      cfg.linux.namespaces.push({ type: 'cgroup' });
      cfg.linux.devices = [{ path: '/dev/extra', type: 'c', major: 1, minor: 1, fileMode: 0o600 }];
    });
    const wrapped = ['-m', '--propagation', 'private', '--', 'sh', '-c', 'mount -t cgroup2 none /sys/fs/cgroup && exec "$@"', 'v2', r.bin];
    const res = spawnSync('unshare', [...wrapped, '--root', c.stateRoot, 'run', '--bundle', c.bundle, c.id], { encoding: 'utf8', timeout: 30_000 });
    t.is(res.status, 0, res.stderr);
    t.deepEqual(res.stdout.trim().split('\n'), ['0::/', '1', '/sys/fs/cgroup/cgroup.controllers', '1', 'Operation not permitted']);
    t.false(existsSync(join('/sys/fs/cgroup/unified', c.cg)), 'the v2 cgroup is removed');
    assertClean(t, c);
  });

  test.serial(title('seccomp: errno rules, argument conditions, and exec gets the filter too'), (t) => {
    const script = [
      'mkdir /tmp/sc-$$ 2>&1 | grep -q "Operation not permitted" && echo mkdir-eperm',
      'kill -0 $$ && echo kill0-ok', 'kill -USR2 $$ 2>/dev/null || echo usr2-denied',
      'chmod 700 /tmp 2>&1 | grep -q "Permission denied" && echo chmod-eacces',
      'touch /tmp/sc-file-$$ && echo touch-ok; rm -f /tmp/sc-file-$$',
    ].join('; ');
    const c = prepare(r, ['sh', '-c', script], (cfg) => {
      cfg.linux.seccomp = {
        defaultAction: 'SCMP_ACT_ALLOW',
        architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
        syscalls: [
          { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
          { names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 12, op: 'SCMP_CMP_EQ' }] },
          { names: ['chmod', 'fchmodat', 'fchmod'], action: 'SCMP_ACT_ERRNO', errnoRet: 13, args: [{ index: 0, value: 0, op: 'SCMP_CMP_GE' }] },
          { names: ['no_such_syscall_anywhere'], action: 'SCMP_ACT_KILL' },
        ],
      };
    });
    const res = rt(r, c.stateRoot, ['run', '--bundle', c.bundle, c.id]);
    t.is(res.code, 0, res.stderr);
    t.deepEqual(res.stdout.trim().split('\n'), ['mkdir-eperm', 'kill0-ok', 'usr2-denied', 'chmod-eacces', 'touch-ok']);
    assertClean(t, c);

    const d = prepare(r, ['sleep', '100'], (cfg) => { cfg.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] }; });
    t.is(rt(r, d.stateRoot, ['run', '-d', '--bundle', d.bundle, d.id]).code, 0);
    try {
      const ex = rt(r, d.stateRoot, ['exec', '--env', 'PATH=/bin', d.id, 'sh', '-c', 'mkdir /tmp/sc-exec-$$ || echo denied']);
      t.regex(ex.stdout, /denied/, 'the exec\'d process is filtered too');
    } finally {
      t.is(rt(r, d.stateRoot, ['delete', '--force', d.id]).code, 0);
    }
    assertClean(t, d);
  });

  test.serial(title('linux.devices nodes are made; the device cgroup allows the standard ones only'), (t) => {
    const script = "ls -ln /dev/extra | awk '{print $1, $3, $4, $5, $6}'; head -c1 /dev/zero | wc -c; " +
      'head -c1 /dev/extra 2>&1 | grep -o "Operation not permitted"';
    const c = prepare(r, ['sh', '-c', script], (cfg) => {
      cfg.linux.devices = [{ path: '/dev/extra', type: 'c', major: 1, minor: 1, fileMode: 0o640, uid: 0, gid: 0 }];
    });
    const res = rt(r, c.stateRoot, ['run', '--bundle', c.bundle, c.id]);
    t.is(res.code, 0, res.stderr);
    t.deepEqual(res.stdout.trim().split('\n'), ['crw-r----- 0 0 1, 1', '1', 'Operation not permitted']);
    assertClean(t, c);
  });

  test.serial(title('exit code of the process'), (t) => {
    const c = prepare(r, ['sh', '-c', 'exit 42']);
    const res = rt(r, c.stateRoot, ['run', '--bundle', c.bundle, c.id]);
    t.is(res.code, 42, res.stderr);
    assertClean(t, c);
  });

  test.serial(title('signals via kill (by name to a trap, by number to kill)'), async (t) => {
    const trap = prepare(r, ['sh', '-c', 'trap "exit 7" TERM; echo ready; while :; do sleep 0.05; done']);
    const running = rtAsync(r, trap.stateRoot, ['run', '--bundle', trap.bundle, trap.id]);
    await waitStatus(r, trap, 'running');
    await new Promise((d) => setTimeout(d, 200)); // let the shell install its trap
    t.is(rt(r, trap.stateRoot, ['kill', trap.id, 'TERM']).code, 0);
    const res = await running;
    t.is(res.code, 7, res.stderr);
    assertClean(t, trap);

    const hard = prepare(r, ['sleep', '100']);
    const running2 = rtAsync(r, hard.stateRoot, ['run', '--bundle', hard.bundle, hard.id]);
    await waitStatus(r, hard, 'running');
    t.is(rt(r, hard.stateRoot, ['kill', hard.id, '9']).code, 0);
    t.is((await running2).code, 137);
    assertClean(t, hard);
  });

  test.serial(title('memory limit leads to an OOM kill (exit 137)'), (t) => {
    const c = prepare(r, ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=256M', 'count=1'], (cfg) => {
      cfg.linux.resources.memory = { limit: 32 * 1024 * 1024, swap: 32 * 1024 * 1024 };
    });
    const res = rt(r, c.stateRoot, ['run', '--bundle', c.bundle, c.id]);
    t.is(res.code, 137, res.stderr);
    assertClean(t, c);
  });

  test.serial(title('a fork bomb is contained by the pids limit'), (t) => {
    // Globs and echo are shell builtins: counting needs no fork at the limit.
    const script = "sh -c 'i=0; while [ $i -lt 64 ]; do sleep 2 & i=$((i+1)); done' 2>/dev/null; set -- /proc/[0-9]*; echo procs=$#";
    const c = prepare(r, ['sh', '-c', script], (cfg) => { cfg.linux.resources.pids = { limit: 12 }; });
    const res = rt(r, c.stateRoot, ['run', '--bundle', c.bundle, c.id]);
    t.is(res.code, 0, res.stderr);
    const procs = Number(/procs=(\d+)/.exec(res.stdout)?.[1]);
    t.true(procs >= 2 && procs <= 12, `processes in the container: ${procs}`);
    assertClean(t, c);
  });

  test.serial(title('the cpu quota holds a busy loop near its share'), (t) => {
    // 20% of one CPU for 2 s ≈ 40 ticks of 10 ms; loosely bounded at 1.5×.
    const script = "sh -c 'while :; do :; done' & p=$!; sleep 2; read -r line < /proc/$p/stat; kill $p; echo \"stat=$line\"";
    const c = prepare(r, ['sh', '-c', script], (cfg) => { cfg.linux.resources.cpu = { quota: 20000, period: 100000 }; });
    const res = rt(r, c.stateRoot, ['run', '--bundle', c.bundle, c.id]);
    t.is(res.code, 0, res.stderr);
    const fields = (/stat=(.*)/.exec(res.stdout)?.[1] ?? '').replace(/^.*\) /, '').split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14, 15)
    t.log(`busy loop used ${ticks} ticks in 2 s under a 20% quota`);
    t.true(ticks > 0 && ticks < 60, `ticks ${ticks}`);
    assertClean(t, c);
  });
}
