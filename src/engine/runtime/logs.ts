// Reading the monitor's JSON-lines log (`log.json`, rotated to `log.json.1` …
// oldest last): parse, `since`, `tail`, and `follow` until the container has
// exited for good, or until `signal` is aborted.

import { existsSync, fstatSync, openSync, readSync, closeSync, statSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LogLine, LogOptions } from '../api.js';
import { pause } from '../../util/pause.js';
import { DirWake } from '../../util/dir-wake.js';

/** One file's lines; a line that is not JSON (torn write) is skipped. `log` loses its trailing newline. */
export function parseLogText(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const raw of text.split('\n')) {
    if (!raw) continue;
    try {
      const v = JSON.parse(raw) as { time?: string; stream?: string; log?: string };
      if (typeof v.log !== 'string' || typeof v.time !== 'string') continue;
      out.push({ time: v.time, stream: v.stream === 'stderr' ? 'stderr' : 'stdout', log: v.log.endsWith('\n') ? v.log.slice(0, -1).replace(/\r$/, '') : v.log });
    } catch { /* torn line */ }
  }
  return out;
}

/** The files of a log, oldest first. */
export function logFiles(path: string, maxFiles = 64): string[] {
  const files: string[] = [];
  for (let i = maxFiles; i >= 1; i--) if (existsSync(`${path}.${i}`)) files.push(`${path}.${i}`);
  if (existsSync(path)) files.push(path);
  return files;
}

/** Pure: applies `since` then `tail`. */
export function selectLines(lines: LogLine[], opts: Pick<LogOptions, 'since' | 'tail'>): LogLine[] {
  let sel = lines;
  if (opts.since) {
    const t = opts.since.getTime();
    sel = sel.filter((l) => Date.parse(l.time) >= t);
  }
  if (opts.tail !== undefined && opts.tail >= 0) sel = opts.tail === 0 ? [] : sel.slice(-opts.tail);
  return sel;
}


/**
 * Reads the log; with `follow`, keeps reading appended lines (and across a rotation) until `done()` says
 * the writer has finished or `opts.signal` is aborted. Files are opened only for the length of one read,
 * so an abort (checked before each line and during each wait) leaves nothing open.
 */
export async function* readLogs(path: string, opts: LogOptions, done: () => boolean): AsyncGenerator<LogLine> {
  const signal = opts.signal;
  if (signal?.aborted) return;
  const files = logFiles(path);
  let lines: LogLine[] = [];
  // The live file is read through one descriptor and the follow goes on from exactly the bytes read
  // (to the last whole line): a separate stat for the offset lost every line written between the two.
  let ino = 0, offset = 0;
  for (const f of files) {
    try {
      if (f !== path) { lines = lines.concat(parseLogText(readFileSync(f, 'utf8'))); continue; }
      const live = readLive(path);
      ino = live.ino;
      offset = live.wholeLines;
      lines = lines.concat(parseLogText(live.bytes.subarray(0, opts.follow ? offset : undefined).toString('utf8')));
    } catch { /* rotated away meanwhile */ }
  }
  for (const l of selectLines(lines, opts)) {
    if (signal?.aborted) return;
    yield l;
  }
  if (!opts.follow || signal?.aborted) return;

  let partial = '';
  const since = opts.since?.getTime();
  // Idle, the follow sleeps on inotify (the container's directory: appends, a rotation, the state file
  // its monitor writes) with a slow safety poll, instead of waking 10 times a second; for a second
  // after anything happened it polls as before, so lines are batched and an exit is seen at once.
  const wake = new DirWake(dirname(path));
  let lastActivity = Date.now();
  const nudge = anySignal(signal, opts.finish);
  try {
    for (;;) {
      wake.changed = false;
      const finished = done();
      let st;
      try { st = statSync(path); } catch { st = undefined; }
      if (st && (st.ino !== ino || st.size < offset)) {
        // rotated: finish the old file (now log.json.1) from our offset, then start the new one
        if (ino !== 0 && existsSync(`${path}.1`)) {
          const old = statSync(`${path}.1`);
          if (old.ino === ino && old.size > offset) {
            yield* emit(readRange(`${path}.1`, offset, old.size));
          }
        }
        ino = st.ino;
        offset = 0;
        partial = '';
      }
      if (st && st.size > offset) {
        lastActivity = Date.now();
        const chunk = partial + readRange(path, offset, st.size);
        offset = st.size;
        const cut = chunk.lastIndexOf('\n');
        partial = cut < 0 ? chunk : chunk.slice(cut + 1);
        if (cut >= 0) yield* emit(chunk.slice(0, cut + 1));
      }
      if (finished || signal?.aborted) return;
      // told the writer is finishing (opts.finish): look again at once, not after the batching pause
      if (opts.finish?.aborted) await pause(3, signal);
      else if (wake.changed || Date.now() - lastActivity < 1000 || !wake.watching) await pause(100, nudge);
      else await wake.wait(IDLE_POLL_MS, nudge);
      if (wake.changed) lastActivity = Date.now();
      if (signal?.aborted) return;
    }
  } finally {
    wake.close();
  }

  function* emit(text: string): Generator<LogLine> {
    for (const l of parseLogText(text)) {
      if (signal?.aborted) return;
      if (since === undefined || Date.parse(l.time) >= since) yield l;
    }
  }
}

/** A signal aborted when either is (undefined when neither is given). */
function anySignal(a?: AbortSignal, b?: AbortSignal): AbortSignal | undefined {
  return a && b ? AbortSignal.any([a, b]) : a ?? b;
}

/**
 * How often an idle follow looks anyway. A monitor killed outright changes no file, but its guard sees it
 * die and records the end (a change the follow is woken by); this look is for the monitor and its guard
 * both killed. Rare on purpose: an idle `up --watch` holds one follow per container, and a wake-up of the
 * process cost it 5–10 ms of CPU here, up to ~50 ms on a loaded machine (caches and pages gone cold).
 */
const IDLE_POLL_MS = 30_000;

/** The file's inode, content and the length of its whole lines (up to the last newline), through one descriptor. */
function readLive(path: string): { ino: number; bytes: Buffer; wholeLines: number } {
  const fd = openSync(path, 'r');
  try {
    const st = fstatSync(fd);
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n <= 0) break;
      got += n;
    }
    const bytes = buf.subarray(0, got);
    return { ino: st.ino, bytes, wholeLines: bytes.lastIndexOf(0x0a) + 1 };
  } finally {
    closeSync(fd);
  }
}

function readRange(path: string, from: number, to: number): string {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(to - from);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, from + got);
      if (n <= 0) break;
      got += n;
    }
    return buf.subarray(0, got).toString('utf8');
  } finally {
    closeSync(fd);
  }
}
