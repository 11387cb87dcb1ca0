// Isolation keys bench: the cost of a `security_opt: [seccomp=<profile>]` filter on a syscall-heavy
// container (dd of 1-byte blocks: ~2 syscalls per block) under tsstack-runtime and runc, against no
// filter; and the start-to-exit time of `true` with pid: host vs its own pid namespace.
// The profile is an allow-list in Docker's format of every syscall the runtime knows (default ERRNO),
// alphabetical like Docker's default profile. Prints medians and ratios.
// Usage (as root, in a mount namespace): node dist/bench/keys-isolation.js [runs]
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerCreateSpec } from '../src/engine/api.js';
import { Containers } from '../src/engine/runtime/containers.js';
import { OverlayRootfs, mountsUnder, runtimes } from '../test/engine-runtime/helpers.js';
import { makeTemp, rmTemp } from '../test/helpers/rootfs.js';
import { execFileSync } from 'node:child_process';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function spec(name: string, args: string[], extra: Partial<ContainerCreateSpec> = {}): ContainerCreateSpec {
  return {
    name, image: 'busybox', imageId: 'sha256:busybox', labels: {}, args, env: [], cwd: '/', hostname: name, mounts: [], endpoints: [],
    networkMode: 'none', ports: [], resources: {}, restart: 'no', stopSignal: 'SIGKILL', stopGracePeriod: 1000, ...extra,
  };
}

async function timeRun(c: Containers, s: ContainerCreateSpec): Promise<number> {
  const info = await c.create(s);
  const t0 = performance.now();
  await c.start(info.id);
  const code = await c.wait(info.id);
  const ms = performance.now() - t0;
  await c.remove(info.id, { force: true });
  if (code !== 0) throw new Error(`${s.name} exited ${code}`);
  return ms;
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 7);
  const base = makeTemp('tsstack-bench-iso-');
  try {
    const fs = new OverlayRootfs(base);
    const names = [...readFileSync(new URL('../../native/runtime/syscalls.c', import.meta.url), 'utf8').matchAll(/\{"([a-z0-9_]+)", SYS_/g)].map((m) => m[1]!).sort();
    const profile = join(base, 'allow-list.json');
    writeFileSync(profile, JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1, syscalls: [{ names, action: 'SCMP_ACT_ALLOW' }] }));
    const dd = ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=1', 'count=300000'];
    console.log(`profile: ${names.length} syscalls allowed; workload: ${dd.join(' ')}; ${runs} runs each`);
    for (const rt of runtimes()) {
      const c = new Containers({ root: join(base, rt, 'root'), runRoot: join(base, rt, 'run'), images: fs, runtime: rt });
      let n = 0;
      const measure = async (extra: Partial<ContainerCreateSpec>, args: string[]) => {
        const xs: number[] = [];
        for (let i = 0; i < runs; i++) xs.push(await timeRun(c, spec(`b${++n}`, args, extra)));
        return median(xs);
      };
      const none = await measure({}, dd);
      const filtered = await measure({ seccomp: profile }, dd);
      const own = await measure({}, ['true']);
      const host = await measure({ pidMode: 'host' }, ['true']);
      console.log(`${rt}: dd no filter ${none.toFixed(0)} ms, with profile ${filtered.toFixed(0)} ms (x${(filtered / none).toFixed(2)}); ` +
        `true own pid ns ${own.toFixed(0)} ms, pid: host ${host.toFixed(0)} ms (x${(host / own).toFixed(2)})`);
    }
  } finally {
    for (const m of mountsUnder(base).reverse()) execFileSync('umount', ['-l', m]);
    rmTemp(base);
  }
}

await main();
