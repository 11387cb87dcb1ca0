// Pushes the engine's state changes to the hub as they happen, so nothing runs
// while nothing changes. Every container's state lives in
// `<root>/containers/<id>/{container.json,state.json}`, each replaced by rename
// (its monitor rewrites state.json on every start, exit, restart and health
// check): one inotify watch on the containers directory (a container made or
// removed) and one on each container's directory (its files renamed in) see
// all of it. What no file records (a monitor killed outright) the hub's slow
// safety look at the state fingerprint still finds.

import { watch, type FSWatcher } from 'node:fs';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface ChangeWatch {
  close(): void;
}

/** The files of a container directory whose renaming is a change the dashboard shows. */
const STATE_FILES = new Set(['state.json', 'container.json']);

/**
 * Calls `onChange` whenever a container of `root` is created, removed or has its records replaced.
 * Bursts are not merged here (the hub does that). A directory that cannot be watched (gone, or
 * the inotify limit reached) is left to the safety look.
 */
export function watchContainers(root: string, onChange: () => void): ChangeWatch {
  const dir = join(root, 'containers');
  const each = new Map<string, FSWatcher>();
  let closed = false;
  const open = (path: string, on: (name: string | null) => void): FSWatcher | undefined => {
    try {
      const w = watch(path, { persistent: false }, (_ev, name) => on(name === null ? null : String(name)));
      w.on('error', () => w.close());
      return w;
    } catch {
      return undefined;
    }
  };
  /** Watches the container directories there are now, forgets those gone. */
  const rescan = () => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      names = [];
    }
    const now = new Set(names);
    for (const [id, w] of each) if (!now.has(id)) { w.close(); each.delete(id); }
    for (const id of names) {
      if (each.has(id) || id.startsWith('.')) continue;
      const w = open(join(dir, id), (name) => { if (name === null || STATE_FILES.has(name)) onChange(); });
      if (w) each.set(id, w);
    }
  };
  const top = open(dir, () => {
    if (closed) return;
    rescan();
    onChange();
  });
  rescan();
  return {
    close: () => {
      closed = true;
      top?.close();
      for (const w of each.values()) w.close();
      each.clear();
    },
  };
}
