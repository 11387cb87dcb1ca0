// pid / ipc / uts sharing, no-new-privileges, seccomp profiles and cgroup_parent on real containers
// (overlay root over busybox, no network), under each runtime. Nothing may be left behind.
import test from 'ava';
import { existsSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { processGone, runtimes, until } from './helpers.js';
import { containerKit, plainSpec, runToEnd, leftovers } from './kit.js';
import { noneHere } from '../helpers/skip.js';

const { engine } = containerKit('tsstack-iso-');

const spec = plainSpec;

const run = runToEnd;


noneHere(runtimes(), 'isolation in real containers', 'runtime');
for (const rt of runtimes()) {
  test.serial(`${rt}: pid namespace: own by default, the host's with pid: host`, async (t) => {
    const { c } = engine(t, rt);
    const count = 'echo "pid=$$"; ls /proc 2>/dev/null | grep -c "^[0-9]"';
    const own = await run(c, spec('own', ['sh', '-c', count]));
    const host = await run(c, spec('host', ['sh', '-c', count], { pidMode: 'host' }));
    t.deepEqual([own.code, host.code], [0, 0]);
    t.is(own.out[0], 'pid=1');
    t.true(Number(own.out[1]) <= 3, own.out.join('|'));
    t.not(host.out[0], 'pid=1');
    t.true(Number(host.out[1]) > 3, `the host's processes are visible: ${host.out.join('|')}`);
    for (const x of [own, host]) {
      await c.remove(x.id);
      t.deepEqual(leftovers(c, x.id), []);
    }
  });

  test.serial(`${rt}: pid and ipc of another container (container:NAME): b sees a's processes and shares its ipc namespace`, async (t) => {
    const { c } = engine(t, rt);
    const a = await c.create(spec('a', ['sh', '-c', 'trap "exit 0" TERM; sleep 1000 & wait']));
    // created before its peer runs (as in one `up`): the namespace path is taken at start, which needs the peer running
    const early = await c.create(spec('early', ['true'], { pidMode: 'container:a' }));
    await t.throwsAsync(c.start(early.id), { message: /pid: container:a: that container is not running/ });
    await t.throwsAsync(c.create(spec('orphan', ['true'], { pidMode: 'container:nope' })), { message: /no such container: nope/ });
    await c.start(a.id);
    const apid = (await c.inspect('a'))!.pid!;
    const b = await run(c, spec('b', ['sh', '-c', 'tr "\\0" " " < /proc/1/cmdline; echo; readlink /proc/self/ns/ipc; echo "pid=$$"'], { pidMode: 'container:a', ipcMode: 'container:a' }));
    t.is(b.code, 0);
    t.is(b.out[0]!.trim(), 'sh -c trap "exit 0" TERM; sleep 1000 & wait', 'pid 1 is a\'s init');
    t.is(b.out[1], readlinkSync(`/proc/${apid}/ns/ipc`));
    t.not(b.out[2], 'pid=1');
    t.not(readlinkSync(`/proc/${apid}/ns/ipc`), readlinkSync('/proc/self/ns/ipc'));
    // after a restart of a, b joins a's new namespaces (the path is renewed at start)
    await c.stop('a', 2000);
    await c.start('a');
    const apid2 = (await c.inspect('a'))!.pid!;
    t.not(apid2, apid);
    await c.start(b.id);
    t.is(await c.wait(b.id), 0);
    const again: string[] = [];
    for await (const l of c.logs(b.id, {})) again.push(l.log);
    t.is(again[4], readlinkSync(`/proc/${apid2}/ns/ipc`));
    await c.start(early.id);
    t.is(await c.wait(early.id), 0);
    await c.remove(early.id);
    await c.remove(b.id);
    await c.stop('a', 2000);
    await c.remove(a.id);
    t.true(await until(() => processGone(apid2)));
    t.deepEqual([...leftovers(c, a.id), ...leftovers(c, b.id)], []);
  });

  test.serial(`${rt}: uts and ipc host: the host's hostname and ipc namespace, the host's name unchanged`, async (t) => {
    const { c } = engine(t, rt);
    const before = hostname();
    const r = await run(c, spec('named-not-applied', ['sh', '-c', 'hostname; readlink /proc/self/ns/ipc; readlink /proc/self/ns/uts; cat /etc/hostname'], { utsMode: 'host', ipcMode: 'host' }));
    t.is(r.code, 0);
    const etc = existsSync('/etc/hostname') ? readFileSync('/etc/hostname', 'utf8').trim() || 'localhost' : 'localhost';
    t.deepEqual(r.out, [before, readlinkSync('/proc/self/ns/ipc'), readlinkSync('/proc/self/ns/uts'), etc]);
    t.is(hostname(), before);
    const own = await run(c, spec('own-name', ['hostname']));
    t.deepEqual(own.out, ['own-name']);
    for (const id of [r.id, own.id]) {
      await c.remove(id);
      t.deepEqual(leftovers(c, id), []);
    }
  });

  test.serial(`${rt}: no-new-privileges and seccomp profiles`, async (t) => {
    const { c, dir } = engine(t, rt);
    const profile = join(dir, 'deny-mkdir.json');
    writeFileSync(profile, JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW',
      archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] }, { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: [] }],
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13, args: [] }, { names: ['reboot'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_BOOT'] } }],
    }));
    const probe = 'grep -E "^(NoNewPrivs|Seccomp):" /proc/self/status | tr -s "\\t " " "; mkdir /tmp/d 2>&1 && echo made';
    const plain = await run(c, spec('plain', ['sh', '-c', probe]));
    const nnp = await run(c, spec('nnp', ['sh', '-c', probe], { noNewPrivileges: true, seccomp: 'unconfined' }));
    const filtered = await run(c, spec('filtered', ['sh', '-c', probe], { seccomp: profile }));
    t.deepEqual(plain.out, ['NoNewPrivs: 0', 'Seccomp: 2', 'made'], 'the default profile');
    t.deepEqual(nnp.out, ['NoNewPrivs: 1', 'Seccomp: 0', 'made']);
    t.is(filtered.out[1], 'Seccomp: 2');
    t.regex(filtered.out[2]!, /Permission denied/, 'errnoRet 13 = EACCES from the profile');
    t.false(filtered.out.includes('made'));
    // a profile that cannot be read fails the create, naming the file, and leaves nothing
    await t.throwsAsync(c.create(spec('bad', ['true'], { seccomp: join(dir, 'missing.json') })), { message: /seccomp profile .*missing\.json cannot be read/ });
    t.deepEqual((await c.list()).map((x) => x.name).sort(), ['filtered', 'nnp', 'plain']);
    for (const x of [plain, nnp, filtered]) {
      await c.remove(x.id);
      t.deepEqual(leftovers(c, x.id), []);
    }
  });

  test.serial(`${rt}: cgroup_parent places the cgroup under it; remove takes both away`, async (t) => {
    const { c } = engine(t, rt);
    const parent = `tsstest-cgp-${process.pid}`;
    const a = await c.create(spec('cg', ['sleep', '1000'], { cgroupParent: parent, stopSignal: 'SIGKILL' }));
    await c.start(a.id);
    const pid = (await c.inspect(a.id))!.pid!;
    // seen from outside: inside, its own cgroup namespace shows it as /
    const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
    t.true(lines.some((l) => l.startsWith('4:memory:') || l.includes(':memory:')) && lines.filter((l) => l.includes(':memory:')).every((l) => l.endsWith(`${parent}/${a.id}`)), lines.join('\n'));
    await c.remove(a.id, { force: true });
    t.true(await until(() => processGone(pid)));
    t.deepEqual(leftovers(c, a.id), []);
    const found: string[] = [];
    const ownPaths = ['', ...readFileSync('/proc/self/cgroup', 'utf8').split('\n').map((l) => l.split(':')[2] ?? '')];
    for (const ctl of readdirSync('/sys/fs/cgroup')) {
      for (const p of ownPaths) {
        if (existsSync(join('/sys/fs/cgroup', ctl, p, parent))) found.push(join('/sys/fs/cgroup', ctl, p, parent));
      }
    }
    t.deepEqual([...new Set(found)], [], 'the parent went with its last container');
  });
}

for (const rt of runtimes()) {
  test.serial(`${rt}: privileged gets every capability this host can grant (its bounding set), and starts`, async (t) => {
    const { c } = engine(t, rt);
    const host = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]!;
    const r = await run(c, spec('priv', ['sh', '-c', 'grep -E "^Cap(Eff|Bnd):" /proc/self/status'], { privileged: true }));
    t.is(r.code, 0, r.out.join('|'));
    t.deepEqual(r.out.map((l) => l.split(/\s+/)[1]), [host, host]);
    await c.remove(r.id);
    t.deepEqual(leftovers(c, r.id), []);
  });
}
