// Reading the monitor's JSON-lines log (`log.json`, rotated to `log.json.1` …
// oldest last): parse, `since`, `tail`, and `follow` until the container has
// exited for good, or until `signal` is aborted.

import { existsSync, fstatSync, openSync, readSync, closeSync, statSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LogLine, LogOptions, OutputChunk } from '../api.js';
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


/** How much of a log file is read at once: the pieces stay far below V8's longest string. */
const READ_BYTES = 4 << 20;

/**
 * Reads the log; with `follow`, keeps reading appended lines (and across a rotation) until `done()` says
 * the writer has finished or `opts.signal` is aborted. Each file is read in pieces of at most READ_BYTES
 * (a log need not be rotated: it may be larger than a string can be), `since` applied as it is read and
 * `tail` keeping only the last lines, so a large log costs time, not memory. A file is open only while
 * it is read (closed also when the reader stops early).
 */
export async function* readLogs(path: string, opts: LogOptions, done: () => boolean): AsyncGenerator<LogLine> {
  const signal = opts.signal;
  if (signal?.aborted) return;
  const since = opts.since?.getTime();
  const later = (l: LogLine) => since === undefined || Date.parse(l.time) >= since;
  const tail = opts.tail !== undefined && opts.tail >= 0 ? opts.tail : undefined;
  let kept: LogLine[] = []; // (with tail: the last lines so far)
  // The live file is read through one descriptor and the follow goes on from exactly the bytes read
  // (to the last whole line): a separate stat for the offset lost every line written between the two.
  let ino = 0, offset = 0;
  for (const f of logFiles(path)) {
    let fd: number;
    try { fd = openSync(f, 'r'); } catch { continue; } // rotated away meanwhile
    try {
      const st = fstatSync(fd);
      let carry: Buffer = Buffer.alloc(0);
      let pos = 0;
      while (pos < st.size) {
        const buf = Buffer.alloc(Math.min(st.size - pos, READ_BYTES));
        const n = readSync(fd, buf, 0, buf.length, pos);
        if (n <= 0) break;
        pos += n;
        const bytes = carry.length ? Buffer.concat([carry, buf.subarray(0, n)]) : buf.subarray(0, n);
        const cut = bytes.lastIndexOf(0x0a) + 1;
        carry = Buffer.from(bytes.subarray(cut));
        yield* take(bytes.subarray(0, cut));
        if (signal?.aborted) return;
      }
      if (f === path && opts.follow) {
        ino = st.ino;
        offset = pos - carry.length; // a last line still being written is followed whole
      } else {
        yield* take(carry); // the file read whole: its last line too, newline or not
        if (signal?.aborted) return;
      }
    } finally {
      closeSync(fd);
    }
  }
  for (const l of tail ? kept.slice(-tail) : []) {
    if (signal?.aborted) return;
    yield l;
  }
  if (!opts.follow || signal?.aborted) return;

  let carry: Buffer = Buffer.alloc(0);
  const pauses = new FollowPauses(dirname(path), signal, opts.finish);
  try {
    for (;;) {
      const finished = done();
      let st;
      try { st = statSync(path); } catch { st = undefined; }
      if (st && (st.ino !== ino || st.size < offset)) {
        // rotated: the rest of the file read (wherever it went: `.1`, or further after several
        // rotations between two looks) and the files rotated after it, then the new one
        if (ino !== 0) yield* emit(Buffer.concat([carry, rotatedSince(path, ino, offset)]).toString('utf8'));
        ino = st.ino;
        offset = 0;
        carry = Buffer.alloc(0);
      }
      if (st && st.size > offset) {
        pauses.active();
        const to = Math.min(st.size, offset + READ_BYTES);
        const bytes = Buffer.concat([carry, readRange(path, offset, to)]);
        offset = to;
        const cut = bytes.lastIndexOf(0x0a) + 1;
        carry = Buffer.from(bytes.subarray(cut));
        if (cut > 0) yield* emit(bytes.subarray(0, cut).toString('utf8'));
        if (to < st.size) continue; // more already there: at once
      }
      if (finished || signal?.aborted) return;
      await pauses.next();
      if (signal?.aborted) return;
    }
  } finally {
    pauses.close();
  }

  function* emit(text: string): Generator<LogLine> {
    for (const l of parseLogText(text)) {
      if (signal?.aborted) return;
      if (later(l)) yield l;
    }
  }

  /** The history's lines of `bytes`: yielded, or with `tail` kept (the last ones only). */
  function* take(bytes: Buffer): Generator<LogLine> {
    for (const l of parseLogText(bytes.toString('utf8'))) {
      if (signal?.aborted) return;
      if (!later(l)) continue;
      if (tail === undefined) yield l;
      else if (kept.push(l) > 2 * tail + 1000) kept = kept.slice(-tail);
    }
  }
}

/**
 * After a rotation: the rest of the file that was being read (inode `ino`, now `.1` or, after several
 * rotations, a higher number) from `offset`, then every file rotated after it, oldest first. Only what
 * the writer dropped as the oldest is lost.
 */
function rotatedSince(path: string, ino: number, offset: number): Buffer {
  const parts: Buffer[] = [];
  let found = false;
  for (const f of logFiles(path).filter((f) => f !== path)) {
    try {
      if (!found) {
        const st = statSync(f);
        if (st.ino !== ino) continue;
        found = true;
        if (st.size > offset) parts.push(readRange(f, offset, st.size));
      } else {
        parts.push(readFileSync(f));
      }
    } catch { /* rotated away meanwhile */ }
  }
  return Buffer.concat(parts);
}


/**
 * The container's output as it wrote it, byte for byte, from the oldest file kept; with `follow`, until
 * `done()`. The monitor keeps bytes from 0x80 up as they came and escapes the others as JSON does, so
 * the files read as latin1 (one character per byte) give, once parsed, one character per byte written:
 * invalid UTF-8, a carriage return, a last line without its newline and a line longer than the monitor's
 * buffer (written in parts) all come back as they were. Read in pieces of at most READ_BYTES,
 * file after file (known by inode, so that a rotation meanwhile is no matter), without a pause while
 * there is more: a container may write faster than one read could hold.
 */
export async function* readOutput(path: string, opts: Pick<LogOptions, 'follow' | 'signal' | 'finish'>, done: () => boolean): AsyncGenerator<OutputChunk> {
  const signal = opts.signal;
  if (signal?.aborted) return;
  let at: { ino: number; offset: number } | undefined;
  let partial = '';
  const pauses = opts.follow ? new FollowPauses(dirname(path), signal, opts.finish) : undefined;
  try {
    for (;;) {
      const finished = done(); // before the read: what was written by then is read below, or on the next turn
      const files = logFiles(path);
      const inos = files.map(inodeOf);
      let read = false;
      let i = at ? inos.indexOf(at.ino) : -1;
      if (i < 0) {
        // the oldest file there is, at first or when the one being read was dropped meanwhile
        i = inos.findIndex((n) => n !== undefined);
        at = i < 0 ? undefined : { ino: inos[i]!, offset: 0 };
        partial = '';
      }
      const fd = at ? openOrUndefined(files[i]!) : undefined;
      if (fd !== undefined) {
        try {
          const st = fstatSync(fd);
          if (st.ino !== at!.ino) {
            // renamed by a rotation since the look: found again at the next turn
          } else if (st.size > at!.offset) {
            const buf = Buffer.alloc(Math.min(st.size - at!.offset, READ_BYTES));
            const n = readSync(fd, buf, 0, buf.length, at!.offset);
            at!.offset += n;
            read = n > 0;
            const text = partial + buf.subarray(0, n).toString('latin1');
            const cut = text.lastIndexOf('\n');
            partial = cut < 0 ? text : text.slice(cut + 1);
            for (const c of parseLogBytes(text.slice(0, cut + 1))) {
              if (signal?.aborted) return;
              yield c;
            }
          } else if (i < files.length - 1 && inos[i + 1] !== undefined) {
            // read to its end and a newer file exists: the writer has gone on to it
            at = { ino: inos[i + 1]!, offset: 0 };
            partial = '';
            read = true;
          }
        } finally {
          closeSync(fd);
        }
      }
      if (signal?.aborted) return;
      if (read) { pauses?.active(); continue; } // there may be more: read on at once
      if (!pauses || finished) return;
      await pauses.next();
      if (signal?.aborted) return;
    }
  } finally {
    pauses?.close();
  }
}

/** One file's entries as bytes (`text` read as latin1); a line that is not JSON (torn write) is skipped. */
export function parseLogBytes(text: string): OutputChunk[] {
  const out: OutputChunk[] = [];
  for (const raw of text.split('\n')) {
    if (!raw) continue;
    try {
      const v = JSON.parse(raw) as { stream?: string; log?: string };
      if (typeof v.log === 'string') out.push({ stream: v.stream === 'stderr' ? 'stderr' : 'stdout', bytes: Buffer.from(v.log, 'latin1') });
    } catch { /* torn line */ }
  }
  return out;
}

function openOrUndefined(path: string): number | undefined {
  try { return openSync(path, 'r'); } catch { return undefined; }
}

function inodeOf(path: string): number | undefined {
  try { return statSync(path).ino; } catch { return undefined; }
}

/**
 * A follow's waits between looks. Idle, it sleeps on inotify (the container's directory: appends, a
 * rotation, the state file its monitor writes) with a slow safety poll, instead of waking 10 times a
 * second; for a second after anything happened it polls as before, so lines are batched and an exit is
 * seen at once; told the writer is finishing (`finish`), it looks again at once.
 */
class FollowPauses {
  private readonly wake: DirWake;
  private lastActivity = Date.now();
  private readonly nudge: AbortSignal | undefined;

  constructor(dir: string, private readonly signal: AbortSignal | undefined, private readonly finish: AbortSignal | undefined) {
    this.wake = new DirWake(dir);
    this.nudge = anySignal(signal, finish);
  }

  /** Something was read: the follow is busy. */
  active(): void {
    this.lastActivity = Date.now();
  }

  async next(): Promise<void> {
    const w = this.wake;
    if (this.finish?.aborted) await pause(3, this.signal);
    else if (w.changed || Date.now() - this.lastActivity < 1000 || !w.watching) await pause(100, this.nudge);
    else await w.wait(IDLE_POLL_MS, this.nudge);
    if (w.changed) this.lastActivity = Date.now();
    w.changed = false;
  }

  close(): void {
    this.wake.close();
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

function readRange(path: string, from: number, to: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(to - from);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, from + got);
      if (n <= 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}
