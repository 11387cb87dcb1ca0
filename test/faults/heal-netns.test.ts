// One engine root used from two network namespaces (the README's isolated demo, then a stack on
// the host): each namespace gets its own DNS server, so the containers of both resolve their
// peers. Before, the second namespace found the first's server "running" and had none.
import { execFile, execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Run } from '../cli/_world.js';
import { healTest, pidsWith } from './_heal.js';

const CLI = fileURLToPath(new URL('../../../bin/tsstack.js', import.meta.url));
const pair = (x: string, y: string) => `
services:
  ${x}: { image: "busybox:latest", command: ["sleep", "1000"], init: true }
  ${y}: { image: "busybox:latest", command: ["sleep", "1000"], init: true }
`;

healTest('one root from two network namespaces: both get DNS', 'healnsa', pair('a', 'b'), async ({ w, T, sh }, t) => {
  // the second namespace, pinned by a bind mount so that every CLI run can enter it
  const pin = join(w.base, 'netns-b');
  writeFileSync(pin, '');
  execFileSync('unshare', [`--net=${pin}`, 'ip', 'link', 'set', 'lo', 'up']);
  const fileB = join(w.dir, 'b.yaml');
  writeFileSync(fileB, pair('c', 'd'));
  const env: NodeJS.ProcessEnv = { ...process.env, TSSTACK_ROOT: w.root, TSSTACK_RUN_ROOT: join(w.root, 'run') };
  delete env.TSSTACK_PROJECT_NAME;
  const TB = (...argv: string[]) => new Promise<Run>((resolve) => {
    execFile('nsenter', [`--net=${pin}`, '--', process.execPath, CLI, '-f', fileB, '-p', 'healnsb', ...argv], { env }, (e, out, err) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out: String(out), err: String(err) });
    });
  });
  try {
    t.is((await T('up', '-d')).code, 0);
    t.is(await sh('a', 'nslookup b >/dev/null 2>&1'), 0, 'the first namespace resolves');
    const upB = await TB('up', '-d');
    t.is(upB.code, 0, upB.err);
    t.is((await TB('exec', '-T', 'c', 'sh', '-c', 'nslookup d >/dev/null 2>&1')).code, 0, 'the second namespace resolves too');
    t.is(pidsWith('tsstack-dns', `${w.root}/`).length, 2, 'a DNS server in each namespace');
    t.is(await sh('a', 'nslookup b >/dev/null 2>&1'), 0, 'the first still does');
    const pb = await TB('plan', '--detailed-exitcode');
    t.is(pb.code, 0, `each namespace converged: ${pb.out}`);
    const pa = await T('plan', '--detailed-exitcode');
    t.is(pa.code, 0, pa.out);
  } finally {
    const d = await TB('down', '-v', '-t', '1');
    if (d.code !== 0) t.log(`down in the second namespace: ${d.err}`);
    execFileSync('umount', [pin]);
    rmSync(pin, { force: true });
  }
});
