// recover() on its own, with what an older tsstack (no intents) or a killed command leaves: a record
// without its bundle (its overlay still mounted), an overlay mounted under a directory no record stands
// for, a bridge named by an intent whose network record is already gone, temps of a dead writer. It
// cleans those of its project and those of nobody, and leaves a live writer's temp and another project's
// intent alone.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isolateNetwork } from '../cli/_netns.js';
import { E2E } from '../cli/_world.js';
import { needs } from '../helpers/skip.js';
import { openEngine } from '../../src/engine/engine.js';
import { recover } from '../../src/engine/recovery.js';
import { containerIds, disposeTemplate, imageWorld, residue, scrub } from './_trial.js';

isolateNetwork();
test.after.always(disposeTemplate);

const P = 'rec';
const deadPid = (): number => Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());
const linkExists = (name: string) => spawnSync('ip', ['link', 'show', name], { stdio: 'ignore' }).status === 0;
const mountsUnder = (dir: string) => execFileSync('cat', ['/proc/self/mountinfo']).toString().split('\n').filter((l) => l.split(' ')[4]?.startsWith(dir + '/'));

needs(...E2E).serial('recover cleans what dead commands and older versions left, and nothing else', async (t) => {
  const w = await imageWorld();
  writeFileSync(join(w.dir, 'stack.yaml'), 'services:\n  a:\n    image: busybox:latest\n    command: ["sleep", "3600"]\n    network_mode: none\n    stop_signal: SIGKILL\n');
  const T = (...argv: string[]) => w.runEnv({ TSSTACK_PROJECT_NAME: undefined, TSSTACK_NO_CACHE: '1' }, '-f', join(w.dir, 'stack.yaml'), '-p', P, ...argv);
  const engine = await openEngine({ root: w.root, runRoot: join(w.root, 'run') });
  const ids: string[] = [];
  let left: string[] = ['not checked'];
  try {
    // a container created, its bundle never written (as a create killed by an older tsstack left it)
    t.is((await T('create')).code, 0);
    const [old] = containerIds(w.root);
    ids.push(old!);
    rmSync(join(w.root, 'containers', old!, 'bundle', 'config.json'));
    // an overlay mounted where no record stands (the mount(8) child of a killed create)
    const image = (await engine.images.inspect('busybox:latest'))!;
    const orphan = randomBytes(32).toString('hex');
    await engine.images.mountRootfs(image.id, join(w.root, 'containers', orphan));
    // a bridge whose network record is gone, named by the removal's intent; temps of a dead and a live writer
    const net = await engine.networks.create({ name: `${P}_gone`, labels: { 'tsstack.project': P } });
    rmSync(join(w.root, 'networks', `${P}_gone.json`));
    const dead = deadPid();
    mkdirSync(join(w.root, 'intents'), { recursive: true });
    writeFileSync(join(w.root, 'intents', `network-${P}_gone.json`), JSON.stringify({ kind: 'network', op: 'remove', name: `${P}_gone`, project: P, link: net.bridge, pid: dead }));
    const otherIntent = join(w.root, 'intents', `container-${'e'.repeat(64)}.json`);
    writeFileSync(otherIntent, JSON.stringify({ kind: 'container', op: 'create', name: 'e'.repeat(64), project: 'other', pid: dead }));
    writeFileSync(join(w.root, 'networks', `.x.json.${dead}.abc123.tmp`), '{');
    const live = join(w.root, 'networks', `.y.json.${process.pid}.def456.tmp`);
    writeFileSync(live, '{');
    t.true(linkExists(net.bridge!));
    t.is(mountsUnder(join(w.root, 'containers')).length, 2);

    const report = await recover(engine, P);
    t.deepEqual(report.problems, []);
    t.deepEqual(await engine.containers.list({ 'tsstack.project': P }), [], 'the container without a bundle is gone (up will create it anew)');
    t.deepEqual(mountsUnder(join(w.root, 'containers')), [], 'no overlay left mounted');
    t.false(existsSync(join(w.root, 'containers', orphan)), 'the orphan directory is gone');
    t.false(linkExists(net.bridge!), 'the bridge named by the intent is gone');
    t.deepEqual(readdirSync(join(w.root, 'networks')).filter((n) => n.endsWith('.tmp')), [`.y.json.${process.pid}.def456.tmp`], "the dead writer's temp is gone, the live one's kept");
    t.deepEqual(readdirSync(join(w.root, 'intents')), [`container-${'e'.repeat(64)}.json`], "another project's intent is left to that project");
    t.true((await recover(engine, P)).done.every((d) => !/removed container|bridge/.test(d)), 'a second pass finds nothing of that left');

    rmSync(live);
    rmSync(otherIntent);
    t.is((await T('up', '-d')).code, 0);
    t.is((await T('plan', '--detailed-exitcode')).code, 0);
    ids.push(...containerIds(w.root));
    t.is((await T('down', '-v', '-t', '1')).code, 0);
    await engine.close();
    left = await residue(w.root, ids);
    t.deepEqual(left, []);
  } finally {
    await engine.close().catch(() => undefined);
    if (left.length) scrub(w, ids);
    else w.dispose();
  }
});
