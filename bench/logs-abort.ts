// How long a cancelled log follow takes to end: abort → iterator returned, for a
// follow waiting on a silent writer (what `logs -f` Ctrl-C and watch --keep see).
// Run: npx tsc -p . && node dist/bench/logs-abort.js [runs]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLogs } from '../src/engine/runtime/logs.js';

const runs = Number(process.argv[2] ?? 30);
const dir = mkdtempSync(join(tmpdir(), 'tsstack-bench-logs-'));
const path = join(dir, 'log.json');
writeFileSync(path, JSON.stringify({ log: 'ready\n', stream: 'stdout', time: new Date().toISOString() }) + '\n');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms: number[] = [];
try {
  for (let i = 0; i < runs; i++) {
    const ac = new AbortController();
    const reader = (async () => { for await (const _ of readLogs(path, { follow: true, signal: ac.signal }, () => false)) { /* drain */ } })();
    // Abort at a varying point of the 100 ms poll.
    await new Promise((r) => setTimeout(r, 120 + (i * 37) % 100));
    const t0 = process.hrtime.bigint();
    ac.abort();
    await reader;
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`logs follow, abort → iterator returned: median ${median(ms).toFixed(3)} ms, max ${Math.max(...ms).toFixed(3)} ms over ${runs} runs`);
console.log('before LogOptions.signal: a silent running container\'s follow never returned (watch --keep fell back to a 1 s process.exit timer)');
