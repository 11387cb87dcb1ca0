// Crash safety: the CLI is killed with SIGKILL at every step of `up -d`, `down -v` and an `up` after an
// edit (TSSTACK_FAULT_AT, src/util/fault.ts), and at a few random moments. After each kill, the next
// `up -d` must converge (`plan --detailed-exitcode` then exits 0) and `down -v` must leave nothing: no
// mount, link, nft table, process, cgroup, eBPF program, nor any file of the root but the image store.
//
// Before intents and recovery (src/engine/intents.ts, recovery.ts), 19 of the first 30 trials failed: the
// next `up -d` failed in 15 (a record without its bundle planned as `start`, for ever), an overlay mount
// and its rootfs directory stayed in 7 (`down -v` failed too), an orphan `tss-` bridge in 3, temps in 3.
import test from 'ava';
import { isolateNetwork } from '../cli/_netns.js';
import { E2E } from '../cli/_world.js';
import { needs } from '../helpers/skip.js';
import { listIntents } from '../../src/engine/intents.js';
import { cli, containerIds, disposeTemplate, imageWorld, PROJECT, residue, scrub, writeStack } from './_trial.js';

isolateNetwork();

type Cmd = 'up' | 'down' | 'edit';
interface Point { cmd: Cmd; at?: string; delayMs?: number }

/**
 * The kill points. `up`: a fresh `up -d`; `down`: `down -v` of a running stack; `edit`: `up -d` after an
 * edit that recreates service a. `at` is TSSTACK_FAULT_AT (`step[:n]`: the n-th time the step is passed).
 */
export const POINTS: Point[] = [
  // network create: bridge made, network recorded
  { cmd: 'up', at: 'network.bridge' },
  { cmd: 'up', at: 'network.recorded' },
  { cmd: 'up', at: 'network.bridge:2' },
  // container create: record, overlay, sandbox, each network, bundle, monitor
  { cmd: 'up', at: 'container.record' },
  { cmd: 'up', at: 'overlay.mounting' },
  { cmd: 'up', at: 'container.mounted' },
  { cmd: 'up', at: 'container.sandbox' },
  { cmd: 'up', at: 'container.connected' },
  { cmd: 'up', at: 'container.connected:2' },
  { cmd: 'up', at: 'container.network' },
  { cmd: 'up', at: 'container.bundle' },
  { cmd: 'up', at: 'container.monitor' },
  { cmd: 'up', at: 'container.monitor:3' },
  // an atomic write: temp file written, not yet renamed
  { cmd: 'up', at: 'atomic.written' },
  { cmd: 'up', at: 'atomic.written:3' },
  { cmd: 'up', at: 'atomic.written:9' },
  // remove: every link of the stack deleted at once (prepareRemoval), records kept; stopped, unmounted and unplugged,
  // files half gone; network: bridge deleted, not forgotten; forgotten, rules kept
  { cmd: 'down', at: 'network.retired' },
  { cmd: 'down', at: 'remove.stopped' },
  { cmd: 'down', at: 'remove.unpublished' },
  { cmd: 'down', at: 'remove.unmounted' },
  { cmd: 'down', at: 'remove.cgroup' },
  { cmd: 'down', at: 'remove.files' },
  { cmd: 'down', at: 'network.unlinked' },
  { cmd: 'down', at: 'network.forgotten' },
  { cmd: 'down', at: 'atomic.written' },
  // recreate after an edit: the old container going, the new one coming
  { cmd: 'edit', at: 'remove.unmounted' },
  { cmd: 'edit', at: 'remove.files' },
  { cmd: 'edit', at: 'container.record' },
  { cmd: 'edit', at: 'container.mounted' },
  { cmd: 'edit', at: 'container.bundle' },
  { cmd: 'edit', at: 'container.monitor' },
  // random moments
  { cmd: 'up', delayMs: 150 + Math.floor(Math.random() * 900) },
  { cmd: 'up', delayMs: 300 + Math.floor(Math.random() * 1200) },
  { cmd: 'down', delayMs: 100 + Math.floor(Math.random() * 600) },
  { cmd: 'edit', delayMs: 150 + Math.floor(Math.random() * 900) },
];

const title = (p: Point) => `kill -9 during ${p.cmd === 'edit' ? 'up after an edit' : p.cmd === 'up' ? 'up -d' : 'down -v'} ${p.at ? `at ${p.at}` : `after ${p.delayMs} ms`}`;

test.after.always(disposeTemplate);

for (const p of POINTS) {
  needs(...E2E).serial(title(p), async (t) => {
    const w = await imageWorld();
    const file = writeStack(w);
    const T = (...argv: string[]) => w.runEnv({ TSSTACK_PROJECT_NAME: undefined, TSSTACK_NO_CACHE: '1' }, '-f', file, '-p', PROJECT, ...argv);
    const ids: string[] = [];
    let clean = false;
    try {
      if (p.cmd !== 'up') {
        const first = await T('up', '-d');
        t.is(first.code, 0, first.err);
        ids.push(...containerIds(w.root));
      }
      if (p.cmd === 'edit') writeStack(w, 'edited');
      const killed = await cli(w, p.cmd === 'down' ? ['down', '-v', '-t', '1'] : ['up', '-d'], p.at ? { TSSTACK_FAULT_AT: p.at } : {}, p.delayMs);
      if (p.at) t.is(killed.signal, 'SIGKILL', `the CLI reached ${p.at} and died there (exit ${killed.code}: ${killed.err})`);
      ids.push(...containerIds(w.root));
      if (listIntents(w.root).some((i) => i.project === PROJECT)) {
        t.regex((await T('plan')).err, /an interrupted command left changes half made/, 'plan says up will undo them first');
      }
      const up = await T('up', '-d');
      const plan = await T('plan', '--detailed-exitcode');
      t.deepEqual(listIntents(w.root).filter((i) => i.project === PROJECT), [], 'no intent is left (the no-op up path stays open)');
      ids.push(...containerIds(w.root));
      const down = await T('down', '-v', '-t', '1');
      const left = await residue(w.root, ids);
      t.log(`next up -d: ${up.code}${up.code ? ` (${up.err.split('\n').pop()})` : ''}; plan: ${plan.code}; down -v: ${down.code}${down.code ? ` (${down.err.split('\n').pop()})` : ''}; left: ${left.length ? left.join(', ') : 'nothing'}`);
      t.is(up.code, 0, `the next up -d converges: ${up.err}`);
      t.is(plan.code, 0, `then nothing is left to do: ${plan.out}`);
      t.is(down.code, 0, `down -v: ${down.err}`);
      t.deepEqual(left, [], 'down -v leaves nothing');
      clean = !left.length;
    } finally {
      if (clean) w.dispose();
      else scrub(w, ids);
    }
  });
}
