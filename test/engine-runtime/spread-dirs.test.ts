// The directories whose subdirectories are one per container (the containers' state, their
// monitors' and the runtime's) have ext4's "top of a hierarchy" attribute (util/spread-dirs.ts):
// each container's inodes go to a block group of its own, away from recently deleted ones.
import test from 'ava';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { spreadSubdirs, spreadsSubdirs } from '../../src/util/spread-dirs.js';
import { runtimes } from './helpers.js';
import { containerKit, plainSpec } from './kit.js';
import { noneHere } from '../helpers/skip.js';

const { base, engine } = containerKit('tsstack-spread-');

// the attribute is ext4's (and a few others'): where the tests' temporary files live decides
const probe = join(base, 'probe');
mkdirSync(probe, { recursive: true });
const here = spreadSubdirs(probe);

noneHere(runtimes(), 'a container on a real runtime', 'runtime');
for (const rt of runtimes()) {
  (here ? test : test.skip)(`${rt}: the containers', monitors' and runtime's directories spread their subdirectories${here ? '' : ' (this file system has no such attribute)'}`, async (t) => {
    const { c, dir } = engine(t, rt);
    const info = await c.create(plainSpec('spread', ['true']));
    await c.start(info.id);
    await c.wait(info.id);
    t.true(spreadsSubdirs(join(dir, 'root', 'containers')), 'containers/');
    t.true(spreadsSubdirs(join(dir, 'run', 'monitor')), 'monitor/');
    t.true(spreadsSubdirs(join(dir, 'run', 'runtime')), 'runtime/');
    await c.remove(info.id, { force: true });
  });
}
