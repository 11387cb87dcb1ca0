// Recovery: what a command that takes a project's lock does first, so that whatever killed the command
// before it (SIGKILL, a power cut, a full disk) leaves nothing the next one cannot understand.
//
//   - an intent (intents.ts) whose writer is dead: the change is undone — a container half created or
//     half removed is removed (each removal step is idempotent), a network half created or half removed
//     is removed (its record, written before the bridge, names the bridge); `up` then makes them anew;
//   - a container of the project whose record has no `bundle/config.json` (left by a tsstack without
//     intents): removed, so that `up` recreates it instead of failing to start it for ever;
//   - a container directory with no record (a create killed before the record, or a removal killed
//     between its files): what is mounted below it is unmounted (found in /proc/self/mountinfo, not in a
//     record), then it goes; never removed through a mount point;
//   - temp files of atomic writes whose writer is dead.
//
// Cheap when nothing was left: one readdir of the intents, the records (already read by observe) and
// one read of mountinfo. Only this project's intents and records are acted on (another project's command
// may be under way); orphans with no record belong to nobody; dead writers' temps in another project's
// container directories are left to that project's next command.

import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { TsstackError } from '../util/errors.js';
import { pidAlive, removeDeadTemps, tempWriter } from '../util/fs-atomic.js';
import type { Engine, RecoveryReport } from './api.js';

export type { RecoveryReport };
import { endIntent, listIntents, type Intent } from './intents.js';
import { unmountTree } from './runtime/umount.js';


const ID = /^[0-9a-f]{64}$/;

function readJson<T>(path: string): T | undefined {
  try { return JSON.parse(readFileSync(path, 'utf8')) as T; } catch { return undefined; }
}

/** Undoes what dead commands of `project` left half made, and removes what belongs to nobody. Never throws. */
export async function recover(engine: Engine, project: string): Promise<RecoveryReport> {
  const report: RecoveryReport = { done: [], problems: [] };
  if (!engine.root) return report; // an engine without a root on disk (tests' fakes)
  const attempt = async (what: string, f: () => Promise<unknown> | unknown): Promise<boolean> => {
    try {
      await f();
      report.done.push(what);
      return true;
    } catch (e) {
      report.problems.push(`${what}: ${e instanceof Error ? e.message : String(e)}`);
      return false;
    }
  };
  const cdir = join(engine.root, 'containers');

  // 1. intents of this project's dead commands; containers before networks (they use them)
  // (a container intent names a container id, a network intent a network name; nothing else is acted on)
  const dead = listIntents(engine.root).filter((i) => i.project === project && !pidAlive(i.pid) && (i.kind === 'container' ? ID.test(i.name) : i.kind === 'network'));
  const order = (i: Intent) => (i.kind === 'container' ? 0 : 1);
  for (const i of dead.sort((a, b) => order(a) - order(b))) {
    let ok: boolean;
    if (i.kind === 'container') {
      ok = existsSync(join(cdir, i.name, 'container.json'))
        ? await attempt(`removed container ${i.name.slice(0, 12)} left half ${i.op === 'create' ? 'created' : 'removed'}`, () => engine.containers.remove(i.name, { force: true }))
        : await attempt(`removed the files of container ${i.name.slice(0, 12)}`, () => removeOrphanDir(join(cdir, i.name)));
    } else {
      // no record left: the removal was killed after forgetting it, its rules may still be in the table
      ok = (await engine.networks.inspect(i.name))
        ? await attempt(`removed network ${i.name} left half ${i.op === 'create' ? 'created' : 'removed'}`, () => engine.networks.remove(i.name))
        : await attempt(`removed what was left of network ${i.name} (its bridge, its firewall rules)`, () => engine.networks.resync(i.link ? [i.link] : []));
    }
    if (ok) endIntent(engine.root, i.kind, i.name);
  }

  // 2. records of this project without a bundle (no intent: written by an older tsstack)
  let ids: string[] = [];
  try { ids = readdirSync(cdir).filter((n) => ID.test(n)); } catch { /* no containers yet */ }
  const others = new Set<string>(); // containers of other projects: their temps are theirs to clean
  for (const id of ids) {
    // A change under way in a live process (any project) is left alone. Its intent is written before its
    // directory and removed after its record is complete, so reading the intent first, then the record, sees
    // either the live intent or the finished record: never a create's directory that merely looks abandoned.
    if (liveIntent(engine.root, id)) continue;
    const rec = readJson<{ spec?: { labels?: Record<string, string> } }>(join(cdir, id, 'container.json'));
    if (!rec) {
      // no record: a create killed before it, or a removal killed among its files (none is under way: no live writer)
      const writing = (() => { try { return readdirSync(join(cdir, id)).some((n) => { const p = tempWriter(n); return p !== undefined && pidAlive(p); }); } catch { return false; } })();
      if (!writing) await attempt(`removed the files of container ${id.slice(0, 12)} (no record)`, () => removeOrphanDir(join(cdir, id)));
      continue;
    }
    if (rec.spec?.labels?.['tsstack.project'] !== project) {
      others.add(id);
      continue;
    }
    if (!existsSync(join(cdir, id, 'bundle', 'config.json'))) {
      await attempt(`removed container ${id.slice(0, 12)} (never finished: no bundle)`, () => engine.containers.remove(id, { force: true }));
    }
  }

  // 3. temps of dead writers, in the directories atomic writes go to (never into volumes' data or rootfs)
  const dirs = [join(engine.root, 'networks'), join(engine.root, 'intents'), join(engine.root, 'images'), join(engine.runRoot, 'dns')];
  // (two directories per container: only this project's, and those no record stands for, are read, so a
  // command's recovery does not grow with the containers of every other project on the host)
  const mine = ids.filter((id) => !others.has(id));
  for (const id of mine) dirs.push(join(cdir, id), join(cdir, id, 'bundle'));
  const sub = (d: string) => { try { return !existsSync(d) ? [] : readdirSync(d).filter((n) => !n.startsWith('.')).map((n) => join(d, n)); } catch { return []; } };
  const othersShort = new Set([...others].map((id) => id.slice(0, 12))); // monitor directories are named by the short id
  const monitors = sub(join(engine.runRoot, 'monitor')).filter((d) => !othersShort.has(basename(d)));
  dirs.push(...sub(join(engine.root, 'volumes')), ...monitors, ...sub(join(engine.root, 'projects')), ...sub(join(engine.runRoot, 'dns')));
  for (const d of dirs) for (const n of removeDeadTemps(d)) report.done.push(`removed ${join(d, n)} (a write killed before its rename)`);
  return report;
}

function liveIntent(root: string, id: string): boolean {
  const path = join(root, 'intents', `container-${id}.json`);
  if (!existsSync(path)) return false; // most have none: a look, not a failed read's exception (every container, every command)
  const i = readJson<Intent>(path);
  return !!i && pidAlive(i.pid);
}

/** A container directory no record stands for: unmounted below, then removed (kept, with an error, while anything stays mounted). */
function removeOrphanDir(dir: string): void {
  if (!existsSync(dir)) return;
  const still = unmountTree(dir);
  if (still.length) {
    throw new TsstackError('HOST', `${still[0]} is still mounted`, { hint: `see what holds it (fuser -vm ${still[0]}); the next command retries` });
  }
  rmSync(dir, { recursive: true, force: true });
}

