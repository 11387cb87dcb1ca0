// A killed DNS server is noticed: plan says it will repair it, up -d restarts it with its records
// (also on the no-op fast path), and the services resolve each other again.
import { alive, healTest, pidsWith, until } from './_heal.js';

const STACK = `
services:
  a: { image: "busybox:latest", command: ["sleep", "1000"], init: true }
  b: { image: "busybox:latest", command: ["sleep", "1000"], init: true }
`;

healTest('DNS server killed: plan says repair, up -d restarts it, names resolve again', 'healdns', STACK, async ({ w, T, sh }, t) => {
  const resolves = async () => (await sh('a', 'nslookup b >/dev/null 2>&1')) === 0;
  t.is((await T('up', '-d')).code, 0);
  t.is((await T('up', '-d')).code, 0, 'a second up records the converged state (the fast path)');
  t.true(await resolves(), 'b resolves from a');
  const servers = pidsWith('tsstack-dns', `${w.root}/`);
  t.is(servers.length, 1, 'one DNS server for this root');
  const [pid] = servers;
  process.kill(pid, 'SIGKILL');
  t.true(await until(() => !alive(pid)));
  t.false(await resolves(), 'with the server gone, names do not resolve');

  const plan = await T('plan');
  t.is(plan.code, 0, plan.err);
  t.regex(plan.out, /^repair dns \(server not running\)$/m);
  const up = await T('up', '-d');
  t.is(up.code, 0, up.err);
  t.notRegex(up.err, /up to date/, 'not the no-op fast path');
  t.true(await resolves(), 'b resolves again');
  const again = await T('plan', '--detailed-exitcode');
  t.is(again.code, 0, `converged after the repair: ${again.out}`);
});
