// End to end with the real engine: logging (rotation, driver none), cpu_quota/cpu_period,
// mem_reservation and dns_opt from the stack file to the running container, and a change to
// logging recreating the container.
import test from 'ava';
import { isolateNetwork } from './_netns.js';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupPaths } from '../../src/engine/runtime/cgroup-stats.js';
import { canRun, E2E, leftovers, world as baseWorld } from './_world.js';
import { needs } from '../helpers/skip.js';

isolateNetwork();

function world() {
  const w = baseWorld();
  const stack = (yaml: string) => writeFileSync(join(w.dir, 'stack.yaml'), yaml);
  const T = (...argv: string[]) => w.runEnv({ TSSTACK_PROJECT_NAME: undefined }, '-f', join(w.dir, 'stack.yaml'), '-p', 'keys', ...argv);
  return { ...w, stack, T };
}

const stackText = (maxSize: string) => `
services:
  chatty:
    image: busybox:latest
    command: ["sh", "-c", "i=0; while [ $$i -lt 300 ]; do echo \\"line $$i 0123456789012345678901234567890123456789\\"; i=$$((i+1)); done; exec sleep 1000"]
    logging:
      driver: json-file
      options: { max-size: ${maxSize}, max-file: "2" }
    cpu_quota: 50000
    cpu_period: 200000
    mem_reservation: 32m
    dns_opt: ["ndots:3", "use-vc"]
  quiet:
    image: busybox:latest
    command: ["sh", "-c", "echo not-kept; exec sleep 1000"]
    logging: { driver: none }
`;

needs(...E2E).serial('logging rotation and driver none, cpu quota/period, mem_reservation and dns_opt through up; a logging change recreates', async (t) => {
  const w = world();
  try {
    await w.busybox('busybox:latest');
    w.stack(stackText('1k'));
    const up = await w.T('up', '-d');
    t.is(up.code, 0, up.err);
    t.notRegex(up.err, /not supported/, 'none of these keys is warned about');
    const ps = JSON.parse((await w.T('ps', '-a', '--format', 'json')).out) as { Name: string; ID?: string; Id?: string }[];
    t.deepEqual(ps.map((c) => c.Name).sort(), ['keys-chatty-1', 'keys-quiet-1']);

    // chatty: at most two log files of ≤ 1 KiB; `logs` shows the newest lines
    const cdirs = readdirSync(join(w.root, 'containers')).map((id) => join(w.root, 'containers', id));
    const dirOf = (name: string) => cdirs.find((d) => (JSON.parse(readFileSync(join(d, 'container.json'), 'utf8')) as { name: string }).name === name)!;
    const chatty = dirOf('keys-chatty-1');
    const logLast = async () => (await w.T('logs', '--no-log-prefix', 'chatty')).out.split('\n').at(-1);
    for (let i = 0; i < 100 && (await logLast()) !== 'line 299 0123456789012345678901234567890123456789'; i++) await new Promise((r) => setTimeout(r, 50));
    t.is(await logLast(), 'line 299 0123456789012345678901234567890123456789');
    const files = readdirSync(chatty).filter((f) => f.startsWith('log.json')).sort();
    t.deepEqual(files, ['log.json', 'log.json.1']);
    for (const f of files) t.true(readFileSync(join(chatty, f)).length <= 1024, `${f} within max-size`);

    // quiet: no log at all, and `logs` says why
    t.deepEqual(readdirSync(dirOf('keys-quiet-1')).filter((f) => f.startsWith('log')), []);
    const ql = await w.T('logs', 'quiet');
    t.notRegex(ql.out, /not-kept/);
    t.regex(ql.err, /service quiet \(container keys-quiet-1\) has logging driver "none": its output is not kept/);
    t.is(ql.code, 1, 'a log that cannot be read fails the command, as with Docker');

    // dns_opt in the resolv.conf the embedded DNS setup writes; quota/period/reservation in the cgroup
    t.is((await w.T('exec', '-T', 'chatty', 'grep', '-qx', 'options ndots:3 use-vc', '/etc/resolv.conf')).code, 0, 'options line inside');
    t.regex(readFileSync(join(chatty, 'resolv.conf'), 'utf8'), /^nameserver .*\noptions ndots:3 use-vc\n$/m);
    const pid = (JSON.parse(readFileSync(join(chatty, 'state.json'), 'utf8')) as { pid: number }).pid;
    const cg = cgroupPaths(pid)!;
    const read = (p: string) => readFileSync(p, 'utf8').trim();
    if (cg.v1.memory) {
      t.is(read(join(cg.v1.memory, 'memory.soft_limit_in_bytes')), String(32 << 20));
      t.is(read(join(cg.v1.cpu!, 'cpu.cfs_quota_us')), '50000');
      t.is(read(join(cg.v1.cpu!, 'cpu.cfs_period_us')), '200000');
    } else {
      t.is(read(join(cg.v2!, 'memory.low')), String(32 << 20));
      t.is(read(join(cg.v2!, 'cpu.max')), '50000 200000');
    }

    // unchanged: nothing to do; a new max-size: chatty is recreated, quiet stays
    t.regex((await w.T('plan')).out, /no changes/, 'second plan is empty');
    w.stack(stackText('2k'));
    const plan = await w.T('plan');
    t.regex(plan.out, /recreate service:chatty:1 \(changed: logging/);
    t.notRegex(plan.out, /quiet/);
    t.is((await w.T('down', '-t', '1')).code, 0);
    t.deepEqual(leftovers(w.root), []);
  } finally {
    await w.T('down', '-v', '-t', '1').catch(() => {});
    w.dispose();
  }
});
