// An inotify watch on a directory, to wait for a file's change without polling it often: the
// monitor's state file (a container's exit), the DNS server's status file (its load of new records).

import { watch, type FSWatcher } from 'node:fs';
import { pause } from './pause.js';

/**
 * An inotify watch on a directory: `changed` once anything in it changed (or only the file `only`);
 * `wait` sleeps until then (or `ms`, or an abort).
 */
export class DirWake {
  changed = false;
  private w: FSWatcher | undefined;
  private wakeUp: (() => void) | undefined;

  constructor(dir: string, only?: string) {
    try {
      this.w = watch(dir, { persistent: false }, (_e, f) => {
        if (only !== undefined && f !== only) return;
        this.changed = true;
        this.wakeUp?.();
      });
      this.w.on('error', () => this.close());
    } catch { /* no inotify here: poll */ }
  }

  get watching(): boolean { return this.w !== undefined; }

  async wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.changed) return;
    const inner = new AbortController();
    this.wakeUp = () => inner.abort();
    const relay = () => inner.abort();
    signal?.addEventListener('abort', relay, { once: true });
    try { await pause(ms, inner.signal); } finally {
      this.wakeUp = undefined;
      signal?.removeEventListener('abort', relay);
    }
  }

  close(): void { this.w?.close(); this.w = undefined; this.wakeUp?.(); }
}

