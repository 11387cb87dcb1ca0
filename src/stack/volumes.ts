// Short volume syntax → long form: `[source:]target[:options]`.
// A source starting with `.`, `/` or `~` is a bind mount (create_host_path, as
// Compose does for the short form); anything else names a volume. Colons inside
// an uninterpolated `${...}` do not split. Sources stay as written here; the
// loader resolves relative paths against the file's directory.

export interface RawVolume {
  type: 'bind' | 'volume' | 'tmpfs';
  source?: string;
  target: string;
  read_only?: boolean;
  bind?: { propagation?: string; create_host_path?: boolean; selinux?: string };
  volume?: { nocopy?: boolean; subpath?: string };
}

const PROPAGATION = new Set(['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate']);

function splitColons(spec: string): string[] {
  const parts: string[] = [];
  let cur = '';
  let depth = 0;
  for (let i = 0; i < spec.length; i++) {
    const c = spec[i]!;
    if (c === '$' && spec[i + 1] === '{') {
      depth++;
      cur += '${';
      i++;
      continue;
    }
    if (depth > 0 && c === '{') depth++;
    if (depth > 0 && c === '}') depth--;
    if (c === ':' && depth === 0) {
      parts.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  parts.push(cur);
  return parts;
}

export function isPathLike(source: string): boolean {
  return source.startsWith('.') || source.startsWith('/') || source.startsWith('~');
}

/** Parses one short-syntax volume; throws Error with a compose-compatible message. */
export function parseVolumeShort(spec: string): RawVolume {
  if (spec.trim() === '') throw new Error('invalid empty volume spec');
  const parts = splitColons(spec);
  if (parts.length > 3) throw new Error(`invalid spec: ${spec}: too many colons`);
  if (parts.some((p) => p === '')) throw new Error(`invalid spec: ${spec}: empty section between colons`);
  if (parts.length === 1) return { type: 'volume', target: parts[0]!, volume: {} };
  const [source, target, mode] = parts as [string, string, string | undefined];
  const v: RawVolume = isPathLike(source)
    ? { type: 'bind', source, target, bind: { create_host_path: true } }
    : { type: 'volume', source, target, volume: {} };
  for (const opt of mode ? mode.split(',') : []) {
    if (opt === 'ro') v.read_only = true;
    else if (opt === 'rw') delete v.read_only;
    else if (opt === 'z' || opt === 'Z') v.bind = { ...v.bind, selinux: opt };
    else if (PROPAGATION.has(opt)) v.bind = { ...v.bind, propagation: opt };
    else if (opt === 'nocopy') v.volume = { ...v.volume, nocopy: true };
    // Other options are tolerated and ignored, as Compose does.
  }
  return v;
}
