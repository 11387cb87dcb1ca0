// Named volumes: directories `<root>/volumes/<name>/_data`, with the volume's
// labels and creation time in `<root>/volumes/<name>/meta.json` (written
// atomically). A volume outlives the containers that use it; only an explicit
// remove (`down -v`, `volume rm`) deletes it.
// Modes: `volumes/` and each `<name>/` are 0700 (another local user must not
// reach a set-uid file a container left in the data, even if the engine root
// were opened up); `_data` is 0755, what the container sees at the target.

import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomicSync } from '../util/fs-atomic.js';
import { TsstackError } from '../util/errors.js';
import type { Labels, VolumeApi, VolumeInfo } from './api.js';

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

interface Meta {
  name: string;
  labels: Labels;
  created: string;
}

export class Volumes implements VolumeApi {
  readonly dir: string;

  constructor(root: string) {
    this.dir = join(root, 'volumes');
  }

  private meta(name: string): VolumeInfo | undefined {
    const base = join(this.dir, name);
    try {
      const m = JSON.parse(readFileSync(join(base, 'meta.json'), 'utf8')) as Meta;
      return { name: m.name, labels: m.labels ?? {}, created: m.created, mountpoint: join(base, '_data') };
    } catch {
      return undefined;
    }
  }

  /** Idempotent: creating an existing volume returns it unchanged. */
  async create(name: string, labels: Labels): Promise<VolumeInfo> {
    if (!NAME.test(name)) {
      throw new TsstackError('SPEC', `invalid volume name ${JSON.stringify(name)}`, { hint: 'volume names use letters, digits, "_", "." and "-", starting with a letter or digit' });
    }
    const have = this.meta(name);
    if (have) return have;
    const base = join(this.dir, name);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700); // also one made 0755 by an older tsstack
    mkdirSync(base, { recursive: true, mode: 0o700 });
    chmodSync(base, 0o700);
    const data = join(base, '_data');
    if (!existsSync(data)) {
      mkdirSync(data, { mode: 0o755 });
      chmodSync(data, 0o755); // whatever the umask
    }
    const meta: Meta = { name, labels: { ...labels }, created: new Date().toISOString() };
    writeJsonAtomicSync(join(base, 'meta.json'), meta, 0o600);
    return this.meta(name)!;
  }

  async inspect(name: string): Promise<VolumeInfo | undefined> {
    if (!NAME.test(name)) return undefined;
    return this.meta(name);
  }

  async list(filter?: Labels): Promise<VolumeInfo[]> {
    if (!existsSync(this.dir)) return [];
    const out: VolumeInfo[] = [];
    for (const name of readdirSync(this.dir).sort()) {
      const v = this.meta(name);
      if (!v) continue;
      if (filter && !Object.entries(filter).every(([k, val]) => v.labels[k] === val)) continue;
      out.push(v);
    }
    return out;
  }

  /** Removing a volume that does not exist is not an error (teardown is idempotent). */
  async remove(name: string): Promise<void> {
    if (!NAME.test(name)) return;
    const base = join(this.dir, name);
    if (!existsSync(base)) return;
    // meta.json goes first, so a crash mid-way leaves no half volume that lists.
    rmSync(join(base, 'meta.json'), { force: true });
    rmSync(base, { recursive: true, force: true });
  }
}
