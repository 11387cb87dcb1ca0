// Watch mode's merged logs: follows every running container of the project
// as `name  | line`, picks up containers that reconciles create or restart, and
// can hold its output while a live progress view owns the terminal.
//
// Unlike attach.ts (a fixed set of containers for one `up`), the set changes:
// refresh() is called after each reconcile and restart. A container's stream
// ends when it stops; when it runs again the lines already shown are skipped.

import type { ContainerInfo, Engine } from '../engine/api.js';
import { LABEL } from '../engine/api.js';
import { shortName } from './attach.js';
import type { Io } from './context.js';
import { colour } from './render.js';

export interface FollowOptions {
  colour?: boolean;
  prefix?: boolean;
  /** Only these services (all when empty or undefined). */
  services?: string[];
}

export class LogFollower {
  private readonly streams = new Map<string, { done: Promise<void> }>();
  /** Aborted by stop(): ends every read, also one waiting on a silent container. */
  private readonly abort = new AbortController();
  /** Lines shown per container id (skipped when its log is read again after a restart). */
  private readonly shown = new Map<string, number>();
  /** Colour index per short name: a replaced container keeps its service's colour. */
  private readonly colours = new Map<string, number>();
  private width = 0;
  private held: { line: string; err: boolean }[] | undefined;
  private stopped = false;

  constructor(private readonly io: Io, private readonly engine: Engine, private readonly project: string, private readonly opts: FollowOptions = {}) {}

  /** Starts following running containers not followed yet, telling `before` their short names (sorted) first. */
  async refresh(before?: (names: string[]) => void): Promise<string[]> {
    if (this.stopped) return [];
    const all = await this.engine.containers.list({ [LABEL.project]: this.project });
    const wanted = this.opts.services?.length ? new Set(this.opts.services) : undefined;
    const fresh = all
      .filter((c) => c.status === 'running' && c.labels[LABEL.oneoff] !== 'True' && !this.streams.has(c.id))
      .filter((c) => !wanted || wanted.has(c.labels[LABEL.service] ?? ''))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const names = fresh.map((c) => shortName(c, this.project));
    before?.(names);
    for (const c of fresh) this.follow(c);
    return names;
  }

  /** Buffers log lines until release() (a live view is drawing). */
  hold(): void {
    this.held ??= [];
  }

  release(): void {
    const lines = this.held ?? [];
    this.held = undefined;
    for (const l of lines) if (l.err) this.io.err(l.line); else this.io.out(l.line);
  }

  /**
   * Stops showing lines (after up to `graceMs` for streams ending by themselves)
   * and cancels the remaining reads through LogOptions.signal; resolves true when
   * every stream has ended (false only if one overran a 500 ms bound).
   */
  async stop(graceMs = 0): Promise<boolean> {
    if (graceMs > 0) {
      // Containers just stopped: let their last lines and exit codes through first.
      let t: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all([...this.streams.values()].map((s) => s.done)), new Promise((r) => { t = setTimeout(r, graceMs); })]);
      clearTimeout(t);
    }
    this.stopped = true;
    this.release();
    const streams = [...this.streams.values()];
    this.abort.abort();
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      Promise.all(streams.map((s) => s.done)).then(() => true),
      new Promise<boolean>((r) => { timer = setTimeout(() => r(false), 500); }),
    ]);
    clearTimeout(timer);
    return ended;
  }

  private write(line: string, err = false): void {
    if (this.held) this.held.push({ line, err });
    else if (err) this.io.err(line);
    else this.io.out(line);
  }

  private follow(c: ContainerInfo): void {
    const name = shortName(c, this.project);
    if (!this.colours.has(name)) this.colours.set(name, this.colours.size);
    this.width = Math.max(this.width, name.length);
    const entry: { done: Promise<void> } = { done: Promise.resolve() };
    this.streams.set(c.id, entry);
    entry.done = (async () => {
      let skip = this.shown.get(c.id) ?? 0;
      try {
        const it = this.engine.containers.logs(c.id, { follow: true, signal: this.abort.signal })[Symbol.asyncIterator]();
        for (;;) {
          const r = await it.next();
          if (r.done || this.stopped) break;
          this.shown.set(c.id, (this.shown.get(c.id) ?? 0) + (skip > 0 ? 0 : 1));
          if (skip > 0) {
            skip--;
            continue;
          }
          const prefix = this.opts.prefix === false ? '' : colour(`${name.padEnd(this.width)}  | `, this.colours.get(name)!, this.opts.colour ?? this.io.tty);
          for (const line of r.value.log.replace(/\n$/, '').split('\n')) this.write(`${prefix}${line}`);
        }
      } catch { /* removed while being read: its stream is over */ }
      this.streams.delete(c.id);
      if (this.stopped) return;
      // As attached `up` says it; a container removed (replaced by a reconcile) says nothing.
      const info = await this.engine.containers.inspect(c.id).catch(() => undefined);
      if (info?.status === 'exited' && !this.stopped) this.write(`${name} exited with code ${info.exitCode ?? '?'}`, true);
    })();
  }
}
