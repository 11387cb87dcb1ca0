// Attached mode (`up` without -d, `logs -f`): merged, colour-prefixed output of
// several containers, and the exit rules of `--abort-on-container-exit`,
// `--abort-on-container-failure` and `--exit-code-from`.

import type { ContainerInfo, Engine, LogLine, LogOptions } from '../engine/api.js';
import { LABEL } from '../engine/api.js';
import { onInterrupt, type Context } from './context.js';
import { EXIT_INTERRUPTED } from './errors.js';
import { colour } from './render.js';

/** `web-1` for `<project>-web-1`; container_name as is. */
export function shortName(c: ContainerInfo, project: string): string {
  const s = c.labels[LABEL.service];
  const n = c.labels[LABEL.number];
  return s && n && c.name === `${project}-${s}-${n}` ? `${s}-${n}` : c.name;
}

export interface Streams {
  /** Resolves when every stream has ended or was stopped: with how many could not be read (each said on stderr). */
  done: Promise<number>;
  stop(): void;
}

/** Streams the logs of `containers` as `prefix | line`, one colour per container. */
export function streamLogs(ctx: Context, engine: Engine, project: string, containers: ContainerInfo[], opts: LogOptions & { prefix?: boolean; colour?: boolean; skip?: number[] }): Streams {
  const names = containers.map((c) => shortName(c, project));
  const width = Math.max(0, ...names.map((n) => n.length));
  // stop() aborts every read, also one waiting for lines from a silent container; a caller's signal does too.
  const abort = new AbortController();
  const outer = opts.signal;
  const onOuter = () => abort.abort();
  if (outer?.aborted) abort.abort();
  else outer?.addEventListener('abort', onOuter, { once: true });
  const stopped = () => abort.signal.aborted;
  let unreadable = 0;
  const done = Promise.all(containers.map(async (c, i) => {
    const it = engine.containers.logs(c.id, { ...opts, signal: abort.signal })[Symbol.asyncIterator]();
    const prefix = opts.prefix === false ? '' : colour(`${names[i].padEnd(width)}  | `, i, opts.colour ?? ctx.io.tty);
    let skip = opts.skip?.[i] ?? 0;
    try {
      for (;;) {
        const r = await it.next();
        if (r.done || stopped()) break;
        if (skip > 0) {
          skip--;
          continue;
        }
        const text = r.value.log.replace(/\n$/, '');
        for (const line of text.split('\n')) ctx.io.out(`${prefix}${opts.timestamps ? r.value.time + ' ' : ''}${line}`);
      }
    } catch (e) {
      if (stopped()) return;
      unreadable++;
      ctx.io.err(`${names[i]}: logs: ${e instanceof Error ? e.message : String(e)}`);
    }
  })).then(() => {
    outer?.removeEventListener('abort', onOuter);
    return unreadable;
  });
  return {
    done,
    stop() {
      abort.abort();
    },
  };
}

export interface AttachOptions {
  abortOnExit: boolean;
  abortOnFailure: boolean;
  exitCodeFrom?: string;
  stopTimeoutMs?: number;
  colour?: boolean;
  prefix?: boolean;
}

export async function attach(ctx: Context, engine: Engine, project: string, services: string[], o: AttachOptions): Promise<number> {
  const all = await engine.containers.list({ [LABEL.project]: project });
  const cs = all.filter((c) => services.includes(c.labels[LABEL.service] ?? '') && c.labels[LABEL.oneoff] !== 'True')
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  ctx.io.err(`attaching to ${cs.map((c) => shortName(c, project)).join(', ')}`);
  // What was written before we attached, merged across containers in time order
  // (a dependency that ran to completion comes first); then follow what is new.
  const history = await Promise.all(cs.map(async (c) => {
    const lines: LogLine[] = [];
    try {
      for await (const l of engine.containers.logs(c.id, { follow: false })) lines.push(l);
    } catch { /* no log yet */ }
    return lines;
  }));
  const names = cs.map((c) => shortName(c, project));
  const width = Math.max(0, ...names.map((n) => n.length));
  const merged = history.flatMap((ls, i) => ls.map((l, k) => ({ l, i, k }))).sort((a, b) => (a.l.time < b.l.time ? -1 : a.l.time > b.l.time ? 1 : a.i - b.i || a.k - b.k));
  for (const { l, i } of merged) {
    const prefix = o.prefix === false ? '' : colour(`${names[i].padEnd(width)}  | `, i, o.colour ?? ctx.io.tty);
    for (const line of l.log.replace(/\n$/, '').split('\n')) ctx.io.out(`${prefix}${line}`);
  }
  // told at the end that the containers are done, each read drains what its container wrote, then ends
  const finishing = new AbortController();
  const logs = streamLogs(ctx, engine, project, cs, { follow: true, colour: o.colour, prefix: o.prefix, skip: history.map((h) => h.length), finish: finishing.signal });
  let settle!: (code: number) => void;
  const finished = new Promise<number>((r) => { settle = r; });
  let stopping = false;
  const stopAll = async () => {
    if (stopping) return;
    stopping = true;
    ctx.io.err('stopping…');
    await Promise.all(cs.map((c) => engine.containers.stop(c.id, o.stopTimeoutMs).catch(() => {})));
  };
  onInterrupt(() => {
    void stopAll().then(() => settle(EXIT_INTERRUPTED));
  });
  let fromCode: number | undefined;
  let firstCode: number | undefined;
  const waits = cs.map(async (c) => {
    const code = await engine.containers.wait(c.id);
    const svc = c.labels[LABEL.service];
    await new Promise((r) => setTimeout(r, 50)); // let the last log lines through first
    ctx.io.err(`${shortName(c, project)} exited with code ${code}`);
    if (svc === o.exitCodeFrom) fromCode ??= code;
    if (stopping) return;
    if (o.abortOnExit || (o.abortOnFailure && code !== 0)) {
      firstCode ??= code;
      await stopAll();
      settle(o.exitCodeFrom ? fromCode ?? code : code);
    }
  });
  void Promise.all(waits).then(() => settle(o.exitCodeFrom ? fromCode ?? 0 : 0));
  try {
    const code = await finished;
    if (o.exitCodeFrom && fromCode === undefined) {
      const c = cs.find((x) => x.labels[LABEL.service] === o.exitCodeFrom);
      if (c) fromCode = await engine.containers.wait(c.id);
      return fromCode ?? code;
    }
    return code;
  } finally {
    onInterrupt(undefined);
    // the reads finish on their own once their containers' monitors are done (a container that exited
    // just now may still have lines unread: an abort would drop them); a read still waiting after
    // 500 ms is aborted
    finishing.abort();
    let t: NodeJS.Timeout | undefined;
    await Promise.race([logs.done, new Promise((r) => { t = setTimeout(r, 500); })]);
    clearTimeout(t);
    logs.stop();
  }
}
