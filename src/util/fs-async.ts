// The few promise-returning file calls the engine makes on libuv's thread pool, for work that may
// take long (a big tree removed, an image's blobs read, renamed or removed), over node:fs's
// callbacks: the same thread-pool work as node:fs/promises without loading it, ~2 ms of every
// command here (its module pulls in streams and readline). Signatures as node:fs/promises's.
// A create's small calls are made inline instead (fs-now.ts).
import * as fs from 'node:fs';
import type * as fsp from 'node:fs/promises';
import { cb } from './fs-atomic.js';

export const rm = (path: fs.PathLike, opts?: fs.RmOptions): Promise<void> => cb<void>((k) => fs.rm(path, opts ?? {}, k));

export const writeFile = (path: fs.PathOrFileDescriptor, data: string | Uint8Array, opts?: fs.WriteFileOptions): Promise<void> =>
  cb<void>((k) => fs.writeFile(path, data, opts ?? {}, k));

export const readFile = ((path: fs.PathOrFileDescriptor, opts?: { encoding?: BufferEncoding | null; flag?: string } | BufferEncoding | null) =>
  cb<string | Buffer>((k) => fs.readFile(path, opts ?? null, k as (e: NodeJS.ErrnoException | null, v: string | Buffer) => void))) as typeof fsp.readFile;

export const rename = (from: fs.PathLike, to: fs.PathLike): Promise<void> => cb<void>((k) => fs.rename(from, to, k));

export const stat = (path: fs.PathLike): Promise<fs.Stats> => cb<fs.Stats>((k) => fs.stat(path, k));

export const readdir = (path: fs.PathLike): Promise<string[]> => cb<string[]>((k) => fs.readdir(path, k));
