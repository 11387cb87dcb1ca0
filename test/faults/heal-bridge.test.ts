// A network's bridge deleted under running containers (`ip link del tss-…`): they lose each other
// and the published port while the records say all is well. plan says it will repair the network,
// up -d makes the bridge again and puts the containers' links back on it; `restart` does the same.
import { execFileSync } from 'node:child_process';
import { bridges, healTest, httpGet, until, webStack } from './_heal.js';

process.env.TSSTACK_SOCKET_LB_CGROUP = 'off';

const PORT = 18732;
const STACK = webStack(PORT, 'hello-bridge', '  client: { image: "busybox:latest", command: ["sleep", "1000"], init: true }\n');

healTest('bridge deleted: plan says repair, up -d and restart remake it and re-attach the containers', 'healbr', STACK, async ({ T, sh }, t) => {
  // by the name's address, over nc (busybox-static's wget crashes here)
  const reaches = async () => (await sh('client', 'ip=$(nslookup web | awk \'/^Address/ { a = $NF } END { print a }\'); printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 2 "$ip" 80 2>/dev/null | grep -q hello-bridge')) === 0;
  const published = async () => (await httpGet(PORT))?.includes('hello-bridge') ?? false;
  t.is((await T('up', '-d')).code, 0);
  t.true(await until(reaches), 'client reaches web by name');
  t.true(await until(published), 'the published port answers');
  t.is((await T('up', '-d')).code, 0, 'converged (recorded for the fast path)');

  const [br] = bridges();
  t.truthy(br);
  execFileSync('ip', ['link', 'del', br]);
  t.false(await reaches(), 'no bridge, no path');

  const plan = await T('plan');
  t.is(plan.code, 0, plan.err);
  t.regex(plan.out, new RegExp(`^repair network:healbr_default \\(bridge ${br} missing\\)$`, 'm'));
  const up = await T('up', '-d');
  t.is(up.code, 0, up.err);
  t.true(await until(reaches), 'client reaches web again');
  t.true(await until(published), 'the published port answers again');
  t.is((await T('plan', '--detailed-exitcode')).code, 0, 'converged after the repair');

  execFileSync('ip', ['link', 'del', br]);
  const r = await T('restart', '-t', '1');
  t.is(r.code, 0, r.err);
  t.regex(r.err, /repair network:healbr_default/);
  t.true(await until(reaches), 'restart wired them again');

  // deleted while the containers are stopped: the up that starts them makes the bridge first
  t.is((await T('stop', '-t', '1')).code, 0);
  execFileSync('ip', ['link', 'del', br]);
  const plan2 = await T('plan');
  t.regex(plan2.out, new RegExp(`^repair network:healbr_default \\(bridge ${br} missing\\)$`, 'm'), 'the stopped containers\' network is looked at too');
  const up2 = await T('up', '-d');
  t.is(up2.code, 0, up2.err);
  t.true(bridges().includes(br), 'the bridge is back');
  t.true(await until(reaches), 'started, they reach each other');
});
