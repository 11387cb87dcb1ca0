// `tmpfs:` options through `tsstack up` with the real engine and kernel: size, mode, owner and `exec`
// are in effect inside the container, an entry without options keeps Docker's defaults
// (nosuid,nodev,noexec), and down leaves nothing.
import test from 'ava';
import { isolateNetwork } from './_netns.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertNothingLeft, E2E, projectCli, world } from './_world.js';
import { needs } from '../helpers/skip.js';

isolateNetwork();

const stack = `
services:
  a:
    image: busybox:latest
    network_mode: none
    stop_signal: SIGKILL
    tmpfs:
      - "/scratch:size=4m,mode=1770,uid=33,gid=44,exec"
      - /plain
    command: ["sh", "-c", "grep -E ' /(scratch|plain) ' /proc/mounts; stat -c 'STAT %a %u %g' /scratch; cp /bin/busybox /scratch/true && /scratch/true && echo EXEC-OK; cp /bin/busybox /plain/true; /plain/true || echo PLAIN-NOEXEC; echo DONE; sleep 1000"]
`;

needs(...E2E).serial('tmpfs options are applied: size, mode, uid/gid, exec; without options nosuid,nodev,noexec; nothing left', async (t) => {
  const w = world();
  const file = join(w.dir, 'stack.yaml');
  const { T, logsUntil } = projectCli(w, file, 'tmpfs');
  try {
    await w.busybox('busybox:latest');
    writeFileSync(file, stack);
    const up = await T('up', '-d');
    t.is(up.code, 0, up.err);
    const out = await logsUntil('a', /DONE/);
    const scratch = out.split('\n').find((l) => / \/scratch tmpfs /.test(l)) ?? '';
    const plain = out.split('\n').find((l) => / \/plain tmpfs /.test(l)) ?? '';
    t.regex(scratch, /size=4096k/, out);
    t.regex(scratch, /mode=1770/, out);
    t.regex(scratch, /uid=33/, out);
    t.regex(scratch, /gid=44/, out);
    t.notRegex(scratch, /noexec/, out);
    t.regex(scratch, /nosuid/, out);
    t.regex(plain, /nosuid.*nodev.*noexec|noexec/, out);
    t.regex(out, /STAT 1770 33 44/);
    t.regex(out, /EXEC-OK/);
    t.regex(out, /PLAIN-NOEXEC/);
  } finally {
    const d = await T('down', '-t', '1');
    if (d.code !== 0) t.log(`down: ${d.err}`);
    assertNothingLeft(t, w);
  }
});
