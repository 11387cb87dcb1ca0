// Runs the CLI in this process with the engine parts' methods timed: per method,
// calls, sum, mean, max and the window (first start .. last end, ms since this
// process started). Driven by bench/down-trace.sh; usable for any command:
//   node dist/bench/down-trace.js down        (prints the table on stderr)

import { DnsService } from '../src/engine/dns/service.js';
import { ImageStore } from '../src/engine/image/store.js';
import { NetworkManager } from '../src/engine/network/manager.js';
import { Containers } from '../src/engine/runtime/containers.js';
import { processMonitor } from '../src/engine/runtime/kernel-drivers.js';
import { main } from '../src/cli/main.js';

interface Stat { n: number; sum: number; max: number; first: number; last: number }
const stats = new Map<string, Stat>();

function timed(proto: object, methods: string[], prefix: string): void {
  const p = proto as Record<string, unknown>;
  for (const m of methods) {
    const f = p[m];
    if (typeof f !== 'function') continue;
    p[m] = async function (this: unknown, ...args: unknown[]) {
      const start = performance.now();
      try {
        return await (f as (...a: unknown[]) => Promise<unknown>).apply(this, args);
      } finally {
        const end = performance.now();
        const s = stats.get(`${prefix}.${m}`) ?? { n: 0, sum: 0, max: 0, first: start, last: end };
        s.n++;
        s.sum += end - start;
        s.max = Math.max(s.max, end - start);
        s.first = Math.min(s.first, start);
        s.last = Math.max(s.last, end);
        stats.set(`${prefix}.${m}`, s);
      }
    };
  }
}

timed(Containers.prototype, ['create', 'start', 'stop', 'remove', 'inspect', 'list'], 'containers');
// private phases of the sandbox removal are timed too (they are methods on the prototype)
timed(NetworkManager.prototype, ['createSandbox', 'connect', 'publish', 'unpublish', 'removeSandbox', 'unpinLocked', 'releaseLocked', 'vanished', 'remove', 'prepareRemoval', 'syncFirewall'], 'network');
timed(DnsService.prototype, ['setContainer', 'removeContainer', 'ensureRunning', 'close'], 'dns');
timed(ImageStore.prototype, ['mountRootfs', 'unmountRootfs'], 'images');
timed(processMonitor, ['requestStop', 'waitForExit'], 'monitor');

const t0 = performance.now();
const code = await main(process.argv.slice(2));
const t1 = performance.now();
const f = (x: number, w = 7) => x.toFixed(1).padStart(w);
const lines = [...stats.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, s]) =>
  `${k.padEnd(26)} ${String(s.n).padStart(4)} ${f(s.sum, 9)} ${f(s.sum / s.n)} ${f(s.max)}   ${s.first.toFixed(0)}..${s.last.toFixed(0)}`);
process.stderr.write(`main() from ${t0.toFixed(0)} to ${t1.toFixed(0)} ms after process start; exit ${code}\n`
  + `${'call'.padEnd(26)} ${'n'.padStart(4)} ${'sum ms'.padStart(9)} ${'mean'.padStart(7)} ${'max'.padStart(7)}   window (ms)\n${lines.join('\n')}\n`);
process.exitCode = code ?? 0;
