// Every command that takes a project's lock first undoes what a killed command left half made, not only
// `up` and `down`: after an `up -d` killed mid-create, `rm` and `run` work at once, and leave no intent.
import test from 'ava';
import { isolateNetwork } from '../cli/_netns.js';
import { E2E } from '../cli/_world.js';
import { needs } from '../helpers/skip.js';
import { listIntents } from '../../src/engine/intents.js';
import { cli, containerIds, disposeTemplate, imageWorld, PROJECT, residue, scrub, writeStack } from './_trial.js';

isolateNetwork();
test.after.always(disposeTemplate);

for (const [what, argv] of [['rm -s -f', ['rm', '-s', '-f']], ['run --rm --no-deps', ['run', '--rm', '--no-deps', 'a', 'true']]] as const) {
  needs(...E2E).serial(`${what} after an up -d killed mid-create: the half-made container is undone first`, async (t) => {
    const w = await imageWorld();
    const file = writeStack(w);
    const T = (...a: string[]) => w.runEnv({ TSSTACK_PROJECT_NAME: undefined, TSSTACK_NO_CACHE: '1' }, '-f', file, '-p', PROJECT, ...a);
    const ids: string[] = [];
    let clean = false;
    try {
      const killed = await cli(w, ['up', '-d'], { TSSTACK_FAULT_AT: 'container.bundle' });
      t.is(killed.signal, 'SIGKILL', killed.err);
      ids.push(...containerIds(w.root));
      t.true(listIntents(w.root).some((i) => i.project === PROJECT), 'the kill left an intent');
      const r = await T(...argv);
      t.is(r.code, 0, r.err);
      t.deepEqual(listIntents(w.root).filter((i) => i.project === PROJECT), [], `${what} undid the half-made change first`);
      t.is((await T('up', '-d')).code, 0);
      t.is((await T('plan', '--detailed-exitcode')).code, 0);
      ids.push(...containerIds(w.root));
      t.is((await T('down', '-v', '-t', '1')).code, 0);
      const left = await residue(w.root, ids);
      t.deepEqual(left, []);
      clean = !left.length;
    } finally {
      if (clean) w.dispose();
      else scrub(w, ids);
    }
  });
}
