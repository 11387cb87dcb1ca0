// Concurrent removeSandbox calls are coalesced into batches (one group delete of
// the veths, one state write per network); `down` deletes its links before (prepareRemoval).
// Real kernel, fresh namespace per test.
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trackedConnections } from '../../src/engine/network/conntrack.js';
import { rtnlTrips } from '../../src/engine/network/raw-rtnl.js';
import { isTsstackError } from '../../src/util/errors.js';
import { type Env, addTestLink, leftovers, linkNames, setup, sh, teardown } from './helpers.js';

async function withEnv(fn: (env: Env) => Promise<void>): Promise<void> {
  const env = await setup();
  try {
    await fn(env);
  } finally {
    await teardown(env);
  }
}

test.serial('sandboxes removed at once go in batches: every veth, lease and published port goes, nothing else', async (t) => {
  await withEnv(async (env) => {
    await env.m.create({ name: 'p_a', labels: {} });
    await env.m.create({ name: 'p_b', labels: {} });
    // links that are not tsstack's, one of them in a device group of its own: untouched
    addTestLink('testkeep', '192.0.2.1/24');
    sh('ip', ['link', 'set', 'testkeepp', 'group', '7']);
    const ids = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
    for (const [i, id] of ids.entries()) {
      await env.m.createSandbox(id);
      const ep = await env.m.connect(id, { network: 'p_a', aliases: [] });
      if (i % 2 === 0) await env.m.connect(id, { network: 'p_b', aliases: [] });
      if (i === 1) await env.m.publish(id, ep.address, [{ hostPort: 8081, containerPort: 80, protocol: 'tcp' }]);
    }
    // a seventh stays: its veth, lease and port survive the others' removal
    await env.m.createSandbox('stay');
    const stay = await env.m.connect('stay', { network: 'p_a', aliases: [] });
    await env.m.publish('stay', stay.address, [{ hostPort: 8082, containerPort: 80, protocol: 'tcp' }]);
    const vethsBefore = (await linkNames()).filter((n) => n.startsWith('vt'));
    t.is(vethsBefore.length, 10);

    await Promise.all(ids.map((id) => env.m.removeSandbox(id)));

    const links = await linkNames();
    t.deepEqual(links.filter((n) => n.startsWith('vt')).length, 1, 'only the veth of the container that stays');
    t.true(links.includes('testkeep') && links.includes('testkeepp'));
    t.regex(sh('ip', ['-o', 'link', 'show', 'testkeepp']), /group 7/);
    t.deepEqual((await env.m.inspectSandbox('stay')).links.map((l) => l.name).sort(), ['eth0', 'lo']);
    t.deepEqual(env.m.publishedPorts().map((p) => `${p.containerId}:${p.hostPort}`), ['stay:8082']);
    const { NetworkStore } = await import('../../src/engine/network/state.js');
    const store = new NetworkStore(join(env.dir, 'lib'));
    t.deepEqual(Object.keys(store.get('p_a')!.endpoints), ['stay']);
    t.deepEqual(Object.keys(store.get('p_b')!.endpoints), []);

    // again: nothing to do; a bad id fails alone
    await Promise.all(ids.map((id) => env.m.removeSandbox(id)));
    const bad = await t.throwsAsync(env.m.removeSandbox('../x'));
    t.true(isTsstackError(bad));
    await env.m.removeSandbox('stay');
    sh('ip', ['link', 'del', 'testkeep']);
    await env.m.remove('p_a');
    await env.m.remove('p_b');
    t.deepEqual(await leftovers(env), []);
  });
});

test.serial('down\'s removal: the removed containers\' veths and their networks\' bridges go in ONE link deletion; a bridge still used stays', async (t) => {
  await withEnv(async (env) => {
    await env.m.create({ name: 'p_a', labels: {} });
    await env.m.create({ name: 'p_b', labels: {} });
    const ids = ['c1', 'c2', 'c3', 'c4', 'c5'];
    for (const id of ids) {
      await env.m.createSandbox(id);
      await env.m.connect(id, { network: 'p_a', aliases: [] });
    }
    await env.m.connect('c1', { network: 'p_b', aliases: [] });
    // p_b is also used by a container that stays: its bridge and veth stay
    await env.m.createSandbox('stay');
    await env.m.connect('stay', { network: 'p_b', aliases: [] });
    const { NetworkStore } = await import('../../src/engine/network/state.js');
    const store = new NetworkStore(join(env.dir, 'lib'));
    const b = store.get('p_b')!;
    const stayVeth = b.endpoints['stay']!.hostIfname;
    const before = rtnlTrips.deletes;

    await (await env.m.prepareRemoval(ids, ['p_a', 'p_b'])).done;
    t.is(rtnlTrips.deletes - before, 1, 'one RTM_DELLINK for the bridge and the six veths');
    t.deepEqual((await linkNames()).filter((n) => n !== 'lo'), [b.bridge, stayVeth].sort(), 'p_a\'s bridge and every veth of c1..c5 gone; p_b and stay\'s veth kept');
    t.regex(sh('ip', ['-o', 'link', 'show', stayVeth]), new RegExp(`master ${b.bridge}`));
    t.deepEqual(Object.keys(store.get('p_a')!.endpoints).sort(), ids, 'the leases stay until the sandboxes go');

    await Promise.all(ids.map((id) => env.m.removeSandbox(id)));
    await env.m.remove('p_a');
    t.is(rtnlTrips.deletes - before, 1, 'nothing else deleted: no namespace waited for, no bridge left to delete');
    t.is(store.get('p_a'), undefined);
    t.deepEqual(Object.keys(store.get('p_b')!.endpoints), ['stay']);
    t.deepEqual((await env.m.inspectSandbox('stay')).links.map((l) => l.name).sort(), ['eth0', 'lo']);
    t.is((await env.m.faults(['p_b'])).length, 0, 'the network that stays is whole');

    await env.m.removeSandbox('stay');
    await env.m.remove('p_b');
    t.deepEqual(await leftovers(env), []);
  });
});

/** A process that keeps the sandbox's namespace alive without its pin. */
function holdNamespace(env: Env, path: string): void {
  env.children.push(spawn('nsenter', ['--net=' + path, 'sleep', '100'], { stdio: 'ignore' }));
}

test.serial('namespaces that live on elsewhere: unpinned ones are waited for, then their veths deleted; lost pins go at once', async (t) => {
  await withEnv(async (env) => {
    await env.m.create({ name: 'p_a', labels: {} });
    const paths: string[] = [];
    for (const id of ['h1', 'h2', 'h3', 'h4']) {
      paths.push((await env.m.createSandbox(id)).path);
      await env.m.connect(id, { network: 'p_a', aliases: [] });
    }
    for (const p of paths) holdNamespace(env, p);
    await new Promise((r) => setTimeout(r, 200)); // the holders have entered
    // h3, h4: the pin is lost (a reboot of the run root, a manual umount): nothing to wait for
    sh('umount', [paths[2]!]);
    sh('umount', [paths[3]!]);
    const t0 = Date.now();
    await Promise.all(['h3', 'h4'].map((id) => env.m.removeSandbox(id)));
    t.true(Date.now() - t0 < 900, 'no wait for a namespace that was not pinned');
    // h1, h2: pinned, but a process holds them: their veths do not go by themselves
    await Promise.all(['h1', 'h2'].map((id) => env.m.removeSandbox(id)));
    t.deepEqual((await linkNames()).filter((n) => n.startsWith('vt')), []);
    const { NetworkStore } = await import('../../src/engine/network/state.js');
    t.deepEqual(new NetworkStore(join(env.dir, 'lib')).get('p_a')!.endpoints, {});
    await env.m.remove('p_a');
    t.deepEqual(await leftovers(env), []);
  });
});

test('trackedConnections reads the conntrack count, undefined when unreadable', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-ct-'));
  try {
    writeFileSync(join(dir, 'n'), '0\n');
    t.is(trackedConnections(join(dir, 'n')), 0);
    writeFileSync(join(dir, 'n'), '42\n');
    t.is(trackedConnections(join(dir, 'n')), 42);
    writeFileSync(join(dir, 'n'), 'x');
    t.is(trackedConnections(join(dir, 'n')), undefined);
    t.is(trackedConnections(join(dir, 'absent')), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
