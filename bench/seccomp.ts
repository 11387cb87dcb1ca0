// Seccomp bench: what the default profile costs a syscall-heavy container. The workload
// (bench/seccomp-workload.c, static, bind-mounted at /bench) times five loops inside the container:
// getppid, personality (a query; argument tests), 1-byte read+write, socket+close (argument tests), fork+wait. Configurations,
// run interleaved round by round so that the machine's load falls on all alike:
//   tsstack-runtime and runc (through tsstack's engine), each unconfined and with the default profile;
//   Docker (20.10, when DOCKER_HOST answers) with `seccomp=unconfined` and with its own default profile.
// Prints the median ns per iteration and the ratio to the same runtime unconfined.
// Usage (root; bench/seccomp.sh sets up Docker and the namespaces): node dist/bench/seccomp.js WORKLOAD [rounds]
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import type { ContainerCreateSpec, LogLine } from '../src/engine/api.js';
import { Containers } from '../src/engine/runtime/containers.js';
import { OverlayRootfs, mountsUnder, runtimes } from '../test/engine-runtime/helpers.js';
import { makeTemp, rmTemp } from '../test/helpers/rootfs.js';

const LOOPS = ['getppid', 'personality', 'rw', 'socket', 'fork'] as const;
type Sample = Record<(typeof LOOPS)[number], number>;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function parse(lines: string[]): Sample {
  const out: Partial<Sample> = {};
  for (const l of lines) {
    const [k, v] = l.trim().split(/\s+/);
    if ((LOOPS as readonly string[]).includes(k!)) out[k as keyof Sample] = Number(v);
  }
  for (const k of LOOPS) if (!(k in out)) throw new Error(`workload output lacks ${k}: ${lines.join(' | ')}`);
  return out as Sample;
}

interface Config { name: string; runtime: string; confined: boolean; run(): Promise<Sample> }

async function main(): Promise<void> {
  const workload = process.argv[2];
  const rounds = Number(process.argv[3] ?? 11);
  if (!workload) throw new Error('usage: seccomp.js WORKLOAD [rounds]');
  const dir = dirname(workload);
  const base = makeTemp('tsstack-bench-seccomp-');
  const configs: Config[] = [];
  try {
    const fs = new OverlayRootfs(base);
    for (const rt of runtimes()) {
      const c = new Containers({ root: join(base, rt, 'root'), runRoot: join(base, rt, 'run'), images: fs, runtime: rt });
      let n = 0;
      for (const confined of [false, true]) {
        configs.push({
          name: `${rt} ${confined ? 'default profile' : 'unconfined'}`, runtime: rt, confined,
          async run() {
            const s: ContainerCreateSpec = {
              name: `b${++n}`, image: 'busybox', imageId: 'sha256:busybox', labels: {}, args: [`/bench/${workload.split('/').pop()}`], env: [], cwd: '/', hostname: 'b',
              mounts: [{ type: 'bind', source: dir, target: '/bench', readOnly: true }], endpoints: [], networkMode: 'none', ports: [], resources: {}, restart: 'no',
              stopSignal: 'SIGKILL', stopGracePeriod: 1000, ...(confined ? {} : { seccomp: 'unconfined' }),
            };
            const info = await c.create(s);
            await c.start(info.id);
            const code = await c.wait(info.id);
            const lines: string[] = [];
            for await (const l of c.logs(info.id, {}) as AsyncIterable<LogLine>) lines.push(l.log);
            await c.remove(info.id, { force: true });
            if (code !== 0) throw new Error(`${rt}: the workload exited ${code}: ${lines.join(' | ')}`);
            return parse(lines);
          },
        });
      }
    }
    if (process.env.DOCKER_HOST && process.env.TSSTACK_BENCH_DOCKER_IMAGE) {
      const image = process.env.TSSTACK_BENCH_DOCKER_IMAGE;
      const docker = process.env.TSSTACK_BENCH_DOCKER ?? '/usr/bin/docker';
      const version = execFileSync(docker, ['version', '--format', '{{.Server.Version}}'], { encoding: 'utf8' }).trim();
      for (const confined of [false, true]) {
        configs.push({
          name: `docker ${version} ${confined ? 'default profile' : 'unconfined'}`, runtime: 'docker', confined,
          async run() {
            const args = ['run', '--rm', '--network', 'none', ...(confined ? [] : ['--security-opt', 'seccomp=unconfined']), image, '/bench/workload'];
            return parse(execFileSync(docker, args, { encoding: 'utf8' }).split('\n'));
          },
        });
      }
    }
    const samples = new Map<string, Sample[]>(configs.map((c) => [c.name, []]));
    for (const c of configs) await c.run(); // warm-up: caches, first-run costs
    for (let r = 0; r < rounds; r++) for (const c of configs) samples.get(c.name)!.push(await c.run());

    const load = execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).trim().split(' ').slice(0, 3).join(' ');
    console.log(`seccomp bench: ${rounds} interleaved rounds, median ns per iteration (ratio to the same runtime unconfined); load average at the end ${load}`);
    console.log(`| configuration | ${LOOPS.join(' | ')} |`);
    console.log(`|---|${LOOPS.map(() => '---').join('|')}|`);
    for (const c of configs) {
      const med = (k: keyof Sample) => median(samples.get(c.name)!.map((s) => s[k]));
      const ref = configs.find((x) => x.runtime === c.runtime && !x.confined)!;
      const refMed = (k: keyof Sample) => median(samples.get(ref.name)!.map((s) => s[k]));
      const cell = (k: keyof Sample) => (k === 'fork' ? `${(med(k) / 1000).toFixed(1)} µs` : `${med(k).toFixed(0)} ns`) + (c.confined ? ` (×${(med(k) / refMed(k)).toFixed(2)})` : '');
      console.log(`| ${c.name} | ${LOOPS.map(cell).join(' | ')} |`);
    }
  } finally {
    for (const m of mountsUnder(base).reverse()) execFileSync('umount', ['-l', m]);
    rmTemp(base);
  }
}

await main();
