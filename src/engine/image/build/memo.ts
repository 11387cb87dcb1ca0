// The build memo: a build whose every step was a cache hit is remembered with
// everything it read — the Dockerfile's text, the ignore file's text, each
// context source it resolved and the stat (type, mode, device, inode, size,
// mtime, ctime) of each context entry it looked at, the image id each base
// image name gave — and the image it made. The next build with the same
// request checks exactly those (a few lstats, no file read, no Dockerfile
// parsed, none of the builder loaded) and, when all still hold, gives the same
// image and prints the same lines; anything else is a miss and the builder runs.
// A hit loads neither the builder nor the image store: names and records are
// read directly (records.ts), and the image's description (immutable for its
// id) was kept with the memo; only a name to point back or a base named by
// digest or id asks the store itself.
//
// Why this is enough: the builder's result depends on the request, the
// Dockerfile, the ignore rules, the bytes and metadata of the context entries
// it selects, and the base images; a directory's mtime moves when an entry is
// added, removed or renamed in it, and a file's ctime when its bytes or mode
// change (a user cannot set ctime). A tree whose newest ctime is within
// RACY_MS of the build is not remembered: it may change again within the
// clock's tick. Contexts are read through SafeRoot as the builder reads them,
// so a link swapped in fails the check. The memo is written atomically and
// only after a build that read the tree and ran nothing; a hit writes nothing.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { BuildRequest, ImageInfo } from '../../api.js';
import { writeFileAtomicSync } from '../../../util/fs-atomic.js';
import { canonicalJson } from '../../../util/canonical-json.js';
import { Records } from '../records.js';
import { looksLikeImageId, normalizeName } from '../reference.js';
import { ignoreTextOf, readFileInItsDir, statSig, type ContextReads } from './context-files.js';
import { SafeRoot } from './safe-root.js';

const VERSION = 2;
const RACY_MS = 100;

/** What a hit may need of the image store itself (rarely: see the top). */
export interface MemoStore {
  inspect(ref: string): Promise<ImageInfo | undefined>;
  tag(ref: string, name: string): Promise<void>;
}

/** What a build notes while it runs (index.ts fills it). */
export interface MemoNotes {
  reads: ContextReads;
  /** Base and --from image names → the image ids they gave. */
  bases: Map<string, string>;
  lines: string[];
  /** A step ran (was not a cache hit): the build is not remembered. */
  ran: boolean;
  dockerfile?: string;
  ignore?: string;
  started: number;
}

interface Memo {
  v: number;
  key: string;
  context: boolean;
  dockerfile: string | null;
  ignore: string;
  resolved: [string, string | null][];
  stats: [string, string][];
  bases: [string, string][];
  image: string;
  /** The image's description but its names (which move). */
  info: Omit<ImageInfo, 'names'>;
  lines: string[];
}

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

function dockerfilePath(req: BuildRequest): string | undefined {
  if (req.dockerfileInline !== undefined) return undefined;
  const name = req.dockerfile ?? 'Dockerfile';
  return isAbsolute(name) ? name : join(req.context, name);
}

/** The request's key (what the builder takes from it besides the files); undefined for a build that is never remembered. */
function keyOf(req: BuildRequest): string | undefined {
  if (req.noCache) return undefined;
  return sha(canonicalJson({
    v: VERSION, context: resolve(req.context), dockerfile: dockerfilePath(req) ?? null, inline: req.dockerfileInline ?? null,
    args: req.args, target: req.target ?? '', labels: req.labels, tags: req.tags, network: req.network ?? 'default',
  }));
}

function memoPath(root: string, key: string): string {
  return join(root, 'build-cache', 'memo', `${key.slice(0, 40)}.json`);
}

export function newNotes(): MemoNotes {
  return { reads: { resolved: new Map(), stats: new Map(), newest: 0 }, bases: new Map(), lines: [], ran: false, started: Date.now() };
}

export function textSum(text: string): string { return sha(text); }

/** An image's description without its names. */
function described({ names: _names, ...rest }: ImageInfo): Omit<ImageInfo, 'names'> {
  return rest;
}

/** Remembers a build that ran nothing (see the top); anything short of that is not written. */
export function saveMemo(root: string, req: BuildRequest, notes: MemoNotes, info: ImageInfo): void {
  const key = keyOf(req);
  if (!key || notes.ran || notes.reads.newest >= notes.started - RACY_MS) return;
  const memo: Memo = {
    v: VERSION, key, context: notes.ignore !== undefined, dockerfile: notes.dockerfile ?? null, ignore: notes.ignore ?? '',
    resolved: [...notes.reads.resolved], stats: [...notes.reads.stats], bases: [...notes.bases], image: info.id,
    info: described(info), lines: notes.lines,
  };
  const p = memoPath(root, key);
  mkdirSync(join(root, 'build-cache', 'memo'), { recursive: true });
  writeFileAtomicSync(p, JSON.stringify(memo));
}

/** The image a remembered build gave, when everything it read is as it was; undefined otherwise (nothing is written either way but names that moved). */
export async function lookupMemo(root: string, req: BuildRequest, store: () => Promise<MemoStore>): Promise<ImageInfo | undefined> {
  const key = keyOf(req);
  if (!key) return undefined;
  let m: Memo;
  try { m = JSON.parse(readFileSync(memoPath(root, key), 'utf8')) as Memo; } catch { return undefined; }
  if (m.v !== VERSION || m.key !== key || !Array.isArray(m.stats) || !Array.isArray(m.resolved) || !Array.isArray(m.bases) || !Array.isArray(m.lines)
    || typeof m.info !== 'object' || m.info?.id !== m.image) return undefined;
  const df = dockerfilePath(req);
  if (df !== undefined) {
    const text = readFileInItsDir(df);
    if (text === undefined || sha(text) !== m.dockerfile) return undefined;
  }
  const dir = resolve(req.context);
  if (!m.context) {
    if (existsSync(dir)) return undefined;
  } else {
    // read as the builder's BuildContext.open reads it (context.ts), without the ignore rules' parser
    let root: SafeRoot;
    try { root = SafeRoot.open(dir); } catch { return undefined; }
    try {
      if (sha(ignoreTextOf(root, df)) !== m.ignore) return undefined;
      for (const [rel, path] of m.resolved) if ((root.resolve(rel) ?? null) !== path) return undefined;
      for (const [path, sig] of m.stats) if (statSig(root.lstat(path)) !== sig) return undefined;
    } catch { return undefined; } finally { root.close(); }
  }
  const records = new Records(root);
  let names = records.names();
  // a plain name is looked up in the name table, as the store does; an id (prefix) or a digest by the store
  const idOf = async (ref: string): Promise<string | undefined> => {
    if (looksLikeImageId(ref) || ref.includes('@')) return (await (await store()).inspect(ref))?.id;
    try { return names[normalizeName(ref)]; } catch { return undefined; }
  };
  for (const [ref, id] of m.bases) if ((await idOf(ref)) !== id) return undefined;
  if (!records.get(m.image)) return undefined;
  // names moved since (a later build, a tag) point at it again, as the builder's commit would make them
  let moved = false;
  for (const t of req.tags) if ((await idOf(t)) !== m.image) { await (await store()).tag(m.image, t); moved = true; }
  if (moved) names = records.names();
  for (const l of m.lines) req.onProgress?.(l);
  return { ...m.info, names: records.namesOf(m.image, names) };
}
