// DNS names follow containers that exit on their own (issue 5: "records update when
// containers come and go"): real containers from runtime/Containers with the real
// NetworkManager, DnsService and tsstack-dns, one network 172.29.219.0/24 (own subnet,
// so it runs beside the other tests of the suite's namespace).
//   keeper   sleeps; the witness that still resolves, and the stop/start case
//   oneshot  exits 1 when told (restart no); started again, it sleeps
//   bouncer  restart on-failure: exits when told, then twice more at once, then sleeps
//   victim   sleeps; its monitor is SIGKILLed (its guard kills the container and writes "dead")
// Polls with deadlines; the DNS server is asked straight from the test (its gateway) and
// from inside keeper (busybox nslookup).

import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerCreateSpec } from '../../src/engine/api.js';
import type { RestartPolicy } from '../../src/model/types.js';
import { isProcess } from '../../src/engine/dns/process.js';
import { rmTemp } from '../helpers/rootfs.js';
import { mountsUnder, processGone, runtimes, until } from '../engine-runtime/helpers.js';
import { composedEngine } from '../engine-runtime/kit.js';
import { dataOf, query, type Reply } from './_client.js';
import { needs } from '../helpers/skip.js';

const rts = runtimes();
const GW = '172.29.219.1';
const NET = 'e2el_net';

/** The A answers for `name` at the network's gateway; [] for NXDOMAIN (or no answer). */
async function resolve(name: string): Promise<string[]> {
  const r: Reply | 'timeout' = await query(GW, name, 'A', { timeoutMs: 1000 });
  return r === 'timeout' || r.rcode === 'NXDOMAIN' ? [] : dataOf(r, 'A');
}

/** Polls the async `cond` every `stepMs` until it holds or `timeoutMs` passes. */
async function untilAsync(cond: () => Promise<boolean>, timeoutMs: number, stepMs = 20): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** Polls until `name` resolves to exactly `want` ([] = not at all); returns the last answer. */
async function resolvesTo(name: string, want: string[], timeoutMs = 5000): Promise<string[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const got = await resolve(name);
    if (JSON.stringify(got) === JSON.stringify(want) || Date.now() > end) return got;
    await new Promise((r) => setTimeout(r, 20));
  }
}

needs('runtime').serial(`a container that exits on its own stops resolving; a restarted one resolves again (${rts[0] ?? 'no runtime'})`, async (t) => {
  const e = await composedEngine('tsstack-dns-live-e2e-', rts[0]!);
  if (typeof e === 'string') throw new Error(e); // the parts are all built here: a failure, not a skip
  const { base, root, runRoot, imageId, network, dns, c } = e;
  t.teardown(async () => {
    for (const x of await c.list()) await c.remove(x.id, { force: true }).catch(() => {});
    await network.remove(NET).catch(() => {});
    await dns.setNetworks({}).catch(() => {});
    await dns.stop().catch(() => {});
    await network.close();
    for (const m of mountsUnder(base).reverse()) { try { execFileSync('umount', ['-l', m]); } catch { /* gone */ } }
    rmTemp(base);
  });

  const spec = (name: string, script: string, restart: RestartPolicy = 'no'): ContainerCreateSpec => ({
    name: `e2el-${name}-1`, image: 'busybox:latest', imageId, labels: { 'tsstack.project': 'e2el', 'tsstack.service': name }, args: ['sh', '-c', script], env: [], cwd: '/', hostname: name,
    mounts: [], endpoints: [{ network: NET, aliases: [] }], ports: [], resources: {}, restart, stopSignal: 'SIGKILL', stopGracePeriod: 1000,
  });
  const { bridge } = await network.create({ name: NET, labels: { 'tsstack.project': 'e2el' }, subnet: '172.29.219.0/24' });
  const keeper = await c.create(spec('keeper', 'exec sleep 1000'));
  // The marker files live in the container's own root, which survives its exits and restarts.
  const oneshot = await c.create(spec('oneshot', 'if [ -e /.done ]; then exec sleep 1000; fi; while [ ! -e /.go ]; do sleep 0.05; done; touch /.done; exit 1'));
  const bouncer = await c.create(spec('bouncer', 'n=$(cat /.n 2>/dev/null || echo 0); echo $((n+1)) > /.n; [ "$n" -ge 3 ] && exec sleep 1000; '
    + 'if [ "$n" = 0 ]; then while [ ! -e /.go ]; do sleep 0.05; done; fi; exit 3', 'on-failure'));
  const victim = await c.create(spec('victim', 'exec sleep 1000'));
  for (const x of [keeper, oneshot, bouncer, victim]) await c.start(x.id);
  const addr = { keeper: keeper.addresses[NET]!, oneshot: oneshot.addresses[NET]!, bouncer: bouncer.addresses[NET]!, victim: victim.addresses[NET]! };
  for (const [name, a] of Object.entries(addr)) t.deepEqual(await resolvesTo(name, [a]), [a], `${name} resolves while it runs`);

  // (1) oneshot exits by itself: it stops resolving; keeper still does, also from inside keeper.
  await c.execCapture(oneshot.id, ['touch', '/.go']);
  t.true(await untilAsync(async () => (await c.inspect(oneshot.id))?.status === 'exited', 5000), 'oneshot exited');
  t.deepEqual(await resolvesTo('oneshot', []), [], 'an exited container does not resolve');
  t.deepEqual(await resolve('e2el-oneshot-1'), []);
  t.deepEqual(await resolve('keeper'), [addr.keeper]);
  const inside = await c.execCapture(keeper.id, ['sh', '-c', 'nslookup oneshot; echo "oneshot: $?"; nslookup keeper']);
  t.regex(inside.stdout, /oneshot: [1-9]/, inside.stdout + inside.stderr);
  t.true(inside.stdout.includes(`Address: ${addr.keeper}`), inside.stdout);
  t.false(inside.stdout.includes(addr.oneshot), inside.stdout);

  // (2) bouncer exits 3 times under on-failure: quiet while it waits to restart, then back on the same address.
  await c.execCapture(bouncer.id, ['touch', '/.go']);
  let sawQuiet = false;
  const restarted = await untilAsync(async () => {
    if ((await resolve('bouncer')).length === 0) sawQuiet = true;
    const st = c.monitorStateOf(bouncer.id);
    return st?.status === 'running' && st.restartCount >= 3;
  }, 10000, 5);
  t.true(restarted, `bouncer restarted: ${JSON.stringify(c.monitorStateOf(bouncer.id))}`);
  t.true(sawQuiet, 'not resolved during the restart back-off');
  t.deepEqual(await resolvesTo('bouncer', [addr.bouncer]), [addr.bouncer], 'resolves again after the restart, same address');
  t.is((await c.inspect(bouncer.id))?.addresses[NET], addr.bouncer);

  // (3) stop/start through tsstack as before: gone when stop returns, back after start;
  // oneshot (exited on its own) started again resolves again.
  await c.stop(keeper.id);
  t.deepEqual(await resolve('keeper'), [], 'gone as soon as stop returns');
  await c.start(keeper.id);
  await c.start(oneshot.id);
  t.deepEqual(await resolvesTo('keeper', [addr.keeper]), [addr.keeper]);
  t.deepEqual(await resolvesTo('oneshot', [addr.oneshot]), [addr.oneshot]);
  const again = await c.execCapture(keeper.id, ['nslookup', 'oneshot']);
  t.true(again.stdout.includes(`Address: ${addr.oneshot}`), again.stdout + again.stderr);

  // (4) A monitor killed outright: the server sees its process end (and the guard's "dead"),
  // so the container goes quiet, as ps says dead.
  const mon = c.monitorStateOf(victim.id)?.monitorPid;
  t.truthy(mon);
  process.kill(mon!, 'SIGKILL');
  t.deepEqual(await resolvesTo('victim', []), [], 'quiet once its monitor is gone');
  t.is((await c.inspect(victim.id))?.status, 'dead');
  t.deepEqual(await resolve('keeper'), [addr.keeper]);

  // Nothing left: containers, sandboxes, the DNS server, the bridge.
  const pids: number[] = [];
  for (const x of [keeper, oneshot, bouncer, victim]) {
    const pid = (await c.inspect(x.id))?.pid;
    if (pid) pids.push(pid);
    await c.remove(x.id, { force: true });
  }
  for (const pid of pids) t.true(await until(() => processGone(pid)));
  t.deepEqual(mountsUnder(join(runRoot, 'netns')), []);
  t.false(existsSync(join(root, 'containers', keeper.id)));
  await network.remove(NET);
  await dns.setNetworks(await network.gateways());
  t.true(await dns.stopIfIdle(), 'the DNS server goes with the last network');
  t.deepEqual(readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => isProcess(pid, ['tsstack-dns', runRoot])), []);
  t.false(readdirSync('/sys/class/net').includes(bridge), 'bridge gone');
});
