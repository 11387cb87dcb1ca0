// Layer tars built entry by entry (tar-stream), for tests of unpacking and pulls.
import * as tar from 'tar-stream';

export type FixtureEntry = {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';
  data?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string>;
};

/** An uncompressed tar holding `entries` in order. */
export async function makeTar(entries: FixtureEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => { for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c); })();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const data = Buffer.from(e.data ?? '');
    await new Promise<void>((res, rej) => {
      pack.entry({
        name: e.name, type, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), uid: e.uid ?? 0, gid: e.gid ?? 0,
        mtime: e.mtime ?? new Date('2020-01-02T03:04:05Z'), size: type === 'file' ? data.length : 0,
        ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
        ...(e.devmajor !== undefined ? { devmajor: e.devmajor, devminor: e.devminor ?? 0 } : {}),
        ...(e.pax ? { pax: e.pax } : {}),
      }, type === 'file' ? data : Buffer.alloc(0), (err) => (err ? rej(err) : res()));
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Base layer and a second layer with whiteouts, an opaque dir, links, devices and xattrs. */
export async function whiteoutLayers(): Promise<[Buffer, Buffer]> {
  const l1 = await makeTar([
    { name: 'a/', type: 'directory' },
    { name: 'a/x', data: 'x' },
    { name: 'a/y', data: 'y' },
    { name: 'd/', type: 'directory' },
    { name: 'd/keep', data: 'old' },
    { name: 'etc/', type: 'directory' },
    { name: 'etc/motd', data: 'hello\n' },
  ]);
  const l2 = await makeTar([
    { name: 'a/', type: 'directory' },
    { name: 'a/.wh.x' },
    { name: 'd/', type: 'directory', mode: 0o750 },
    { name: 'd/.wh..wh..opq' },
    { name: 'd/new', data: 'new' },
    { name: 'bin/', type: 'directory' },
    { name: 'bin/tool', data: '#!/bin/sh\n', mode: 0o4755, uid: 1000, gid: 1000 },
    { name: 'bin/tool2', type: 'link', linkname: 'bin/tool' },
    { name: 'bin/t', type: 'symlink', linkname: 'tool' },
    { name: 'dev/', type: 'directory' },
    { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'dev/fifo', type: 'fifo', mode: 0o600 },
    { name: 'x-attr', data: 'z', pax: { 'SCHILY.xattr.user.tsstack': 'yes' } },
  ]);
  return [l1, l2];
}
