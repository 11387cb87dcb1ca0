// runc and crun do not retry a cgroup mkdir whose parent (the shared `tsstack/`) another engine
// root's last container took away meanwhile (removeCgroupDirs; tsstack-runtime retries its own):
// Containers.start tries once more on runc's words for it, and on nothing else.
import test from 'ava';
import { processMonitor } from '../../src/engine/runtime/kernel-drivers.js';
import { TsstackError } from '../../src/util/errors.js';
import { runtimes } from './helpers.js';
import { containerKit, plainSpec } from './kit.js';
import { noneHere } from '../helpers/skip.js';

const { engine } = containerKit('tsstack-cgrace-');
const RACE = 'container x could not be started: /usr/sbin/runc create failed: level=error msg="runc create failed: unable to start container process: unable to apply cgroup configuration: mkdir /sys/fs/cgroup/cpuacct/tsstack/x: no such file or directory"';

noneHere(runtimes(), 'a start that loses the race for the cgroup parent', 'runtime');
for (const rt of runtimes().slice(0, 1)) {
  test(`${rt}: a start that lost the race for the shared cgroup parent is tried once more; another failure is not`, async (t) => {
    let calls = 0;
    let fail = (): string | undefined => (calls === 1 ? RACE : undefined);
    const monitor = { ...processMonitor, start: async (o: Parameters<typeof processMonitor.start>[0]) => {
      calls++;
      const why = fail();
      if (why) throw new TsstackError('RUNTIME', why);
      return processMonitor.start(o);
    } };
    const { c } = engine(t, rt, { drivers: { monitor } });
    const a = await c.create(plainSpec('race', ['sleep', '100']));
    await c.start(a.id);
    t.is(calls, 2);
    t.is((await c.inspect(a.id))?.status, 'running');
    await c.remove(a.id, { force: true });

    calls = 0;
    fail = () => 'container y could not be started: exec: "nope": executable file not found';
    const b = await c.create(plainSpec('other', ['sleep', '100']));
    await t.throwsAsync(() => c.start(b.id), { message: /executable file not found/ });
    t.is(calls, 1, 'no second try for another failure');
    await c.remove(b.id, { force: true });
  });
}
