// volumesFrom on real containers (overlay root over busybox, no network), under each runtime: another
// container's binds at the same targets (not its tmpfs), what it borrowed itself, ro/rw overriding the
// mode, the spec's own targets winning; an unknown container refused. Nothing may be left behind.
import test from 'ava';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runtimes } from './helpers.js';
import { containerKit, plainSpec, runToEnd, leftovers } from './kit.js';
import { noneHere } from '../helpers/skip.js';

const { engine } = containerKit('tsstack-vf-');

const spec = plainSpec;

const run = runToEnd;


noneHere(runtimes(), 'volumes_from in real containers', 'runtime');
for (const rt of runtimes()) {
  test.serial(`${rt}: volumesFrom mounts another container's binds (not its tmpfs), ro when asked, own targets first`, async (t) => {
    const { c, dir } = engine(t, rt);
    const data = join(dir, 'data'), conf = join(dir, 'conf'), mine = join(dir, 'mine');
    for (const d of [data, conf, mine]) mkdirSync(d);
    writeFileSync(join(conf, 'c.txt'), 'conf\n');
    writeFileSync(join(mine, 'c.txt'), 'mine\n');
    // the source container is only created: its mounts are known from its record
    const src = await c.create(spec('src', ['true'], {
      mounts: [{ type: 'bind', source: data, target: '/data' }, { type: 'bind', source: conf, target: '/conf', readOnly: true }, { type: 'tmpfs', target: '/scratch' }],
    }));
    const probe = '(echo w > /data/$(hostname)) 2>/dev/null && echo wrote || echo ro; cat /conf/c.txt; grep -c " /scratch " /proc/self/mountinfo; touch /conf/x 2>/dev/null && echo conf-rw || echo conf-ro';
    const rw = await run(c, spec('rw', ['sh', '-c', probe], { volumesFrom: [{ container: 'src' }] }));
    t.deepEqual(rw.out, ['wrote', 'conf', '0', 'conf-ro'], 'binds with their modes, no tmpfs');
    t.is(readFileSync(join(data, 'rw'), 'utf8'), 'w\n');
    const ro = await run(c, spec('ro', ['sh', '-c', probe], { volumesFrom: [{ container: src.id, readOnly: true }] }));
    t.deepEqual(ro.out, ['ro', 'conf', '0', 'conf-ro']);
    t.false(existsSync(join(data, 'ro')));
    const forcedRw = await run(c, spec('frw', ['sh', '-c', probe], { volumesFrom: [{ container: 'src', readOnly: false }] }));
    t.deepEqual(forcedRw.out, ['wrote', 'conf', '0', 'conf-rw']);
    // own target wins; what a peer borrowed comes along
    const own = await run(c, spec('own', ['sh', '-c', 'cat /conf/c.txt; ls /data'], { mounts: [{ type: 'bind', source: mine, target: '/conf' }], volumesFrom: [{ container: 'rw' }] }));
    t.deepEqual(own.out, ['mine', 'frw', 'rw']);
    await t.throwsAsync(c.create(spec('orphan', ['true'], { volumesFrom: [{ container: 'nope' }] })), { message: /volumes_from container:nope \(for orphan\): no such container/ });
    for (const x of [rw.id, ro.id, forcedRw.id, own.id, src.id]) {
      await c.remove(x);
      t.deepEqual(leftovers(c, x), []);
    }
  });
}
