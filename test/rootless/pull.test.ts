// `pull` as an ordinary user (rootless) from the suite's local registry (Debian's
// docker-registry on this namespace's 127.0.0.1), then a service of the pulled image runs.
// The CLI inside the namespace reaches the registry through the CLI outside (rootless/dial.ts):
// without it the pull failed with ECONNREFUSED (only pasta leads out, never to the host's loopback).
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeOciLayout } from '../../src/engine/image/archive.js';
import { ImageStore } from '../../src/engine/image/store.js';
import { makeBusyboxImage } from '../helpers/images.js';
import { startRegistry, skopeoCopy } from '../helpers/registry.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';
import { missing, skipWhen } from '../helpers/skip.js';
import { chownTree, tsstack } from './_cli.js';
import { makeUser, rootlessTest } from './_user.js';

const test = missing('registry') ? skipWhen(true, missing('registry')) : rootlessTest;

test.serial('an ordinary user pulls from a local registry and runs the image', async (t) => {
  const reg = await startRegistry();
  const src = makeTemp();
  const u = makeUser();
  try {
    const store = new ImageStore({ root: src });
    await makeBusyboxImage(store, 'bb:latest');
    await writeOciLayout(store, ['bb:latest'], join(src, 'layout'));
    await skopeoCopy(`oci:${join(src, 'layout')}:latest`, reg.ref('bb:latest'));
    const proj = join(u.home, 'proj');
    mkdirSync(proj, { recursive: true });
    writeFileSync(join(proj, 'compose.yaml'), `services:\n  hi:\n    image: ${reg.host}/bb:latest\n    network_mode: none\n    command: ["echo", "pulled and ran"]\n`);
    chownTree(u.home, u);
    const pull = tsstack(u, proj, ['pull']);
    t.is(pull.status, 0, pull.stderr);
    const ls = tsstack(u, proj, ['image', 'ls']);
    t.regex(ls.stdout, new RegExp(`${reg.host}/bb`), `${pull.stdout}${pull.stderr}`);
    const run = tsstack(u, proj, ['run', '--rm', 'hi']);
    t.is(run.status, 0, run.stderr);
    t.regex(run.stdout, /^pulled and ran$/m);
    t.deepEqual(u.pids(), [], u.describe());
    t.deepEqual(readdirSync(`/tmp/tsstack-run-${u.uid}`).filter((f) => f.startsWith('dial-')), [], 'the relay\'s socket goes with the command');
  } finally {
    u.remove();
    rmTemp(src);
    await reg.stop();
  }
});
