// Durations (Go syntax, `1m30s`) and byte sizes (`512m`, `1g`, binary units)
// as the Compose Specification writes them. Pure; errors are plain Errors with
// a message naming the bad value, wrapped with a location by the caller.

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses `1h2m3.5s`, `500ms`, `0`; a bare number is seconds. Returns milliseconds. */
export function parseDuration(v: string | number): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0) throw new Error(`invalid duration ${JSON.stringify(v)}`);
    return v * 1000;
  }
  const s = v.trim();
  if (s === '0') return 0;
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  if (s === '') throw new Error(`invalid duration ""`);
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) throw new Error(`invalid duration ${JSON.stringify(v)}: expected a number and a unit (h, m, s, ms, us, ns), e.g. 1m30s`);
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    pos = re.lastIndex;
  }
  if (!Number.isFinite(total)) throw new Error(`invalid duration ${JSON.stringify(v)}: too large`);
  return total;
}

/** Formats milliseconds like Go's time.Duration.String (`1m30s`, `1h0m0s`, `500ms`, `0s`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const neg = ms < 0;
  let rest = Math.abs(ms);
  let out: string;
  if (rest < 1000) {
    out = trimNum(rest) + 'ms';
  } else {
    const h = Math.floor(rest / 3_600_000);
    rest -= h * 3_600_000;
    const m = Math.floor(rest / 60_000);
    rest -= m * 60_000;
    const s = trimNum(rest / 1000) + 's';
    out = h > 0 ? `${h}h${m}m${s}` : m > 0 ? `${m}m${s}` : s;
  }
  return neg ? '-' + out : out;
}

function trimNum(x: number): string {
  return String(Math.round(x * 1e6) / 1e6);
}

const BYTE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** Parses `512m`, `1g`, `1.5GiB`, `100kb`, `1024` (binary multiples, like Docker). Returns bytes. */
export function parseBytes(v: string | number): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`invalid size ${v}`);
    return v;
  }
  const m = /^\s*(-?\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?\s*$/i.exec(v);
  if (!m) throw new Error(`invalid size ${JSON.stringify(v)}: expected a number with an optional unit (b, k, m, g), e.g. 512m`);
  const n = Number(m[1]) * BYTE_UNITS[m[2]!.toLowerCase()]!;
  if (!Number.isFinite(n)) throw new Error(`invalid size ${JSON.stringify(v)}: too large`);
  return Math.round(n);
}
