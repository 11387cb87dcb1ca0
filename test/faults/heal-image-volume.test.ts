// An image's VOLUME gets an anonymous volume, as with Compose: what the service writes there is
// still there after the container is recreated, `down` keeps it, `down -v` removes it. A new one
// starts with what the image has at that path.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';
import { healTest } from './_heal.js';

const stack = (tag: string) => `
services:
  db:
    image: volimg:latest
    command: ["sleep", "1000"]
    init: true
    environment: { TAG: "${tag}" }
`;

healTest('image VOLUME: kept across a recreate and a down, removed by down -v', 'healvol', stack('one'), async ({ w, T, stack: write, sh }, t) => {
  const fs = mkdtempSync(join(tmpdir(), 'tsstack-volimg-'));
  try {
    makeBusyboxRootfs(fs);
    mkdirSync(join(fs, 'data'));
    writeFileSync(join(fs, 'data', 'seed'), 'from-image\n');
    const { ImageStore } = await import('../../src/engine/image/store.js');
    await new ImageStore({ root: w.root }).importRootfs(fs, 'volimg:latest', { config: { Cmd: ['sh'], Env: ['PATH=/bin:/usr/bin'], Volumes: { '/data': {}, '/var/lib/x/': {} } } });
  } finally {
    rmSync(fs, { recursive: true, force: true });
  }
  const volumes = () => readdirSync(join(w.root, 'volumes')).filter((v) => !v.startsWith('.'));
  t.is((await T('up', '-d')).code, 0);
  t.is(await sh('db', 'grep -qx from-image /data/seed'), 0, 'a new volume starts with what the image has there');
  t.is((await sh('db', 'echo kept > /data/f && echo kept > /var/lib/x/g')), 0);
  t.is(volumes().length, 2, 'one anonymous volume per image VOLUME');

  write(stack('two'));
  const up = await T('up', '-d');
  t.is(up.code, 0, up.err);
  t.regex(up.err, /service:db:1/, 'recreated');
  t.is(await sh('db', 'grep -qx kept /data/f && grep -qx kept /var/lib/x/g'), 0, 'the data outlives the recreate');

  t.is((await T('down', '-t', '1')).code, 0);
  t.is(volumes().length, 2, 'down keeps them');
  t.is((await T('up', '-d')).code, 0);
  t.is(await sh('db', 'grep -qx kept /data/f'), 0, 'and the next up finds the data again');
  t.is((await T('down', '-v', '-t', '1')).code, 0);
  t.deepEqual(volumes(), [], 'down -v removes them');
});
