// `devices` and `device_cgroup_rules` on real containers (overlay root over busybox, no network), under
// each runtime: the nodes are made with the host's numbers and mode, reads work, access the permissions
// do not give is refused by the device cgroup, and a missing host device fails create() before anything
// is made. Harmless devices only: /dev/zero, /dev/null, /dev/fuse (opened and closed), an unbound loop.
import test from 'ava';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { devMajor, devMinor } from '../../src/engine/runtime/devices.js';
import { runtimes } from './helpers.js';
import { containerKit, plainSpec, runToEnd, leftovers } from './kit.js';
import { needs, noneHere } from '../helpers/skip.js';

const { engine } = containerKit('tsstack-dev-');

const spec = plainSpec;

const run = runToEnd;


const hex = (n: number) => n.toString(16);
/** `stat` of a node in busybox's format: type, major:minor (hex), mode (octal). */
function expectStat(host: string): string {
  const st = statSync(host);
  return `${st.isBlockDevice() ? 'block' : 'character'} special file ${hex(devMajor(st.rdev))}:${hex(devMinor(st.rdev))} ${(st.mode & 0o777).toString(8)}`;
}

const have = (p: string) => existsSync(p) && (statSync(p).isCharacterDevice() || statSync(p).isBlockDevice());
const loop = ['/dev/loop7', '/dev/loop0'].find(have);

noneHere(runtimes(), 'devices in real containers', 'runtime');
for (const rt of runtimes()) {
  needs('dev:fuse').serial(`${rt}: devices are made with the host's numbers; r allows reads, a write is refused by the device cgroup`, async (t) => {
    const { c } = engine(t, rt);
    const script = [
      'for d in /dev/myzero /dev/mynull /dev/myfuse' + (loop ? ' /dev/myloop' : '') + '; do stat -c "$d %F %t:%T %a" $d; done',
      'echo "zero=$(head -c 4 /dev/myzero | od -An -tx1 | tr -d " ")"',
      'echo hi > /dev/mynull && echo null-write=ok',
      ': < /dev/myfuse && echo fuse-read=ok',
      '(: > /dev/myfuse) 2>/dev/null && echo fuse-write=ok || echo fuse-write=refused',
      ...(loop ? [': < /dev/myloop && echo loop-read=ok', '(: > /dev/myloop) 2>/dev/null && echo loop-write=ok || echo loop-write=refused'] : []),
    ].join('; ');
    const devices = [
      { source: '/dev/zero', target: '/dev/myzero', permissions: 'r' },
      { source: '/dev/null', target: '/dev/mynull', permissions: 'rwm' },
      { source: '/dev/fuse', target: '/dev/myfuse', permissions: 'r' },
      ...(loop ? [{ source: loop, target: '/dev/myloop', permissions: 'r' }] : []),
    ];
    const r = await run(c, spec('dev', ['sh', '-c', script], { devices }));
    t.is(r.code, 0, r.out.join('|'));
    const want = [
      `/dev/myzero ${expectStat('/dev/zero')}`, `/dev/mynull ${expectStat('/dev/null')}`, `/dev/myfuse ${expectStat('/dev/fuse')}`,
      ...(loop ? [`/dev/myloop ${expectStat(loop)}`] : []),
      'zero=00000000', 'null-write=ok', 'fuse-read=ok', 'fuse-write=refused',
      ...(loop ? ['loop-read=ok', 'loop-write=refused'] : []),
    ];
    t.deepEqual(r.out, want);
    await c.remove(r.id);
    t.deepEqual(leftovers(c, r.id), []);
  });

  needs('dev:fuse').serial(`${rt}: device_cgroup_rules add allow rules (write to /dev/fuse allowed by "c 10:229 rw")`, async (t) => {
    const { c } = engine(t, rt);
    const st = statSync('/dev/fuse');
    const r = await run(c, spec('rules', ['sh', '-c', '(: > /dev/myfuse) 2>/dev/null && echo write=ok || echo write=refused'], {
      devices: [{ source: '/dev/fuse', target: '/dev/myfuse', permissions: 'r' }],
      deviceCgroupRules: [{ type: 'c', major: devMajor(st.rdev), minor: devMinor(st.rdev), access: 'rw' }],
    }));
    t.is(r.code, 0);
    t.deepEqual(r.out, ['write=ok']);
    await c.remove(r.id);
    t.deepEqual(leftovers(c, r.id), []);
  });

  test.serial(`${rt}: a missing host device fails create() naming it, and nothing is made`, async (t) => {
    const { c } = engine(t, rt);
    await t.throwsAsync(c.create(spec('missing', ['true'], { devices: [{ source: '/dev/tsstack-no-such-device', target: '/dev/x', permissions: 'rwm' }] })), {
      message: /container missing: device \/dev\/tsstack-no-such-device does not exist on this host/,
    });
    await t.throwsAsync(c.create(spec('notdev', ['true'], { devices: [{ source: '/etc/hostname', target: '/dev/x', permissions: 'rwm' }] })), {
      message: /\/etc\/hostname is not a device node/,
    });
    t.deepEqual(await c.list(), []);
    t.false(existsSync(join(c.root, 'containers')) && readdirSync(join(c.root, 'containers')).length > 0);
  });
}
