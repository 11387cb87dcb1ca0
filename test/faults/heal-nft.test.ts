// `nft flush ruleset` (what a reload of nftables.service does) under a running stack: published
// ports stop answering while the records say all is well. plan says it will repair the firewall,
// up -d rebuilds the table from the records and the port answers again. Only ever in this worker's
// own network namespace (_heal.ts checks it left the one it started in).
import { execFileSync } from 'node:child_process';
import { healTest, httpGet, privateNetns, until, webStack } from './_heal.js';

// Host connections to published ports go through the nftables DNAT rules, not the cgroup socket programs.
process.env.TSSTACK_SOCKET_LB_CGROUP = 'off';

const PORT = 18731;
const STACK = webStack(PORT, 'hello-heal');

healTest('nft flush ruleset: plan says repair firewall, up -d restores the published port', 'healnft', STACK, async ({ T }, t) => {
  t.is((await T('up', '-d')).code, 0);
  t.true(await until(async () => (await httpGet(PORT))?.includes('hello-heal') ?? false), 'the published port answers');
  t.is((await T('up', '-d')).code, 0, 'converged (recorded for the fast path)');

  if (!privateNetns) throw new Error('refusing to flush the firewall outside a private network namespace');
  execFileSync('/usr/sbin/nft', ['flush', 'ruleset']);
  t.is(await httpGet(PORT), undefined, 'the port is gone with the rules');

  const plan = await T('plan');
  t.is(plan.code, 0, plan.err);
  t.regex(plan.out, /^repair firewall \(nftables table inet tsstack_\w+ missing\)$/m);
  const up = await T('up', '-d');
  t.is(up.code, 0, up.err);
  t.true(await until(async () => (await httpGet(PORT))?.includes('hello-heal') ?? false), 'the published port answers again');
  t.is((await T('plan', '--detailed-exitcode')).code, 0, 'converged after the repair');

  // a reload again, then `restart`: it repairs too
  execFileSync('/usr/sbin/nft', ['flush', 'ruleset']);
  const r = await T('restart', '-t', '1');
  t.is(r.code, 0, r.err);
  t.regex(r.err, /repair firewall/);
  t.true(await until(async () => (await httpGet(PORT))?.includes('hello-heal') ?? false), 'restart made the port answer again');
});
