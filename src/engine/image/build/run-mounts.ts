// `RUN --mount=…` specs (BuildKit's syntax: comma-separated `key=value` and
// bare flags). Supported: `type=cache` (a directory kept across builds under
// <root>/build-cache/mounts/, keyed by `id`, default the target), `type=bind`
// (read-only, from the context or a stage/image via `from=`) and
// `type=tmpfs`. `secret` and `ssh` are refused: tsstack has no way to pass
// them yet. Pure parsing here; index.ts sets the mounts up.

export type RunMount =
  | { type: 'cache'; target: string; id: string; readonly: boolean; mode: number; uid: number; gid: number }
  | { type: 'bind'; target: string; source: string; from?: string; readonly: true }
  | { type: 'tmpfs'; target: string; size?: number };

export class MountSpecError extends Error {}

const BOOL_KEYS = new Set(['ro', 'readonly', 'rw', 'readwrite']);

function fields(spec: string): [string, string | undefined][] {
  const out: [string, string | undefined][] = [];
  let cur = '';
  let quote = '';
  const parts: string[] = [];
  for (const ch of spec) {
    if (quote) { if (ch === quote) quote = ''; else cur += ch; continue; }
    if (ch === '"' || ch === "'") { quote = ch; continue; }
    if (ch === ',') { parts.push(cur); cur = ''; continue; }
    cur += ch;
  }
  if (quote) throw new MountSpecError(`unterminated quote in --mount=${spec}`);
  parts.push(cur);
  for (const p of parts) {
    const t = p.trim();
    if (t === '') continue;
    const eq = t.indexOf('=');
    out.push(eq < 0 ? [t.toLowerCase(), undefined] : [t.slice(0, eq).trim().toLowerCase(), t.slice(eq + 1)]);
  }
  return out;
}

function bool(v: string | undefined, key: string): boolean {
  if (v === undefined) return true;
  const l = v.toLowerCase();
  if (l === 'true' || l === '1') return true;
  if (l === 'false' || l === '0') return false;
  throw new MountSpecError(`invalid value for ${key}: ${JSON.stringify(v)}`);
}

function int(v: string, key: string, radix = 10): number {
  const n = parseInt(v, radix);
  if (!Number.isFinite(n) || n < 0 || !(radix === 8 ? /^[0-7]+$/ : /^\d+$/).test(v)) throw new MountSpecError(`invalid value for ${key}: ${JSON.stringify(v)}`);
  return n;
}

/** `10m`, `1g`, `512k`, `4096` → bytes. */
function bytes(v: string): number {
  const m = /^(\d+)([kmg]?)b?$/i.exec(v.trim());
  if (!m) throw new MountSpecError(`invalid size ${JSON.stringify(v)}`);
  return Number(m[1]) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[m[2]!.toLowerCase()]!;
}

/** Parses one `--mount` value. Throws MountSpecError with a message naming the problem. */
export function parseRunMount(spec: string): RunMount {
  const kv = new Map<string, string | undefined>();
  for (const [k, v] of fields(spec)) kv.set(k, v);
  const type = (kv.get('type') ?? 'bind').toLowerCase();
  const target = kv.get('target') ?? kv.get('dst') ?? kv.get('destination');
  if (type === 'secret' || type === 'ssh') throw new MountSpecError(`RUN --mount=type=${type} is not supported by tsstack`);
  if (!target) throw new MountSpecError(`--mount=${spec}: target is required`);
  if (!target.startsWith('/')) throw new MountSpecError(`--mount=${spec}: target must be an absolute path`);
  for (const k of kv.keys()) {
    const known = ['type', 'target', 'dst', 'destination', 'source', 'src', 'from', 'id', 'sharing', 'mode', 'uid', 'gid', 'size', ...BOOL_KEYS];
    if (!known.includes(k)) throw new MountSpecError(`--mount=${spec}: unknown key "${k}"`);
  }
  const ro = kv.has('ro') ? bool(kv.get('ro'), 'ro') : kv.has('readonly') ? bool(kv.get('readonly'), 'readonly') : undefined;
  const rw = kv.has('rw') ? bool(kv.get('rw'), 'rw') : kv.has('readwrite') ? bool(kv.get('readwrite'), 'readwrite') : undefined;
  switch (type) {
    case 'cache':
      if (kv.has('from') || kv.has('source') || kv.has('src')) throw new MountSpecError(`--mount=${spec}: a cache mount seeded from another stage is not supported`);
      return {
        type: 'cache', target, id: kv.get('id') || target,
        readonly: ro === true || rw === false,
        mode: kv.get('mode') !== undefined ? int(kv.get('mode')!, 'mode', 8) : 0o755,
        uid: kv.get('uid') !== undefined ? int(kv.get('uid')!, 'uid') : 0,
        gid: kv.get('gid') !== undefined ? int(kv.get('gid')!, 'gid') : 0,
      };
    case 'bind':
      if (rw === true || ro === false) throw new MountSpecError(`--mount=${spec}: writable bind mounts are not supported (tsstack binds read-only)`);
      return { type: 'bind', target, source: kv.get('source') ?? kv.get('src') ?? '/', ...(kv.get('from') ? { from: kv.get('from')! } : {}), readonly: true };
    case 'tmpfs':
      return { type: 'tmpfs', target, ...(kv.get('size') ? { size: bytes(kv.get('size')!) } : {}) };
    default:
      throw new MountSpecError(`--mount=${spec}: unknown mount type "${type}"`);
  }
}
