// openEngine's own seams (api.ts Engine): what the CLI and reconcile ask of the engine beyond its parts.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEngine } from '../../src/engine/engine.js';

const deadPid = (): number => Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());

test('pendingChanges: the project\'s begun and unended changes, the dead writers\' ones marked', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'tsstack-engine-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const engine = await openEngine({ root, runRoot: join(root, 'run') });
  t.teardown(() => engine.close());
  t.deepEqual(await engine.pendingChanges('p'), [], 'none (no intents directory)');
  mkdirSync(join(root, 'intents'));
  const intent = (file: string, o: object) => writeFileSync(join(root, 'intents', file), JSON.stringify(o));
  intent('container-aaa.json', { kind: 'container', op: 'create', name: 'a'.repeat(64), project: 'p', pid: process.pid });
  intent('network-p_default.json', { kind: 'network', op: 'remove', name: 'p_default', project: 'p', pid: deadPid() });
  intent('container-bbb.json', { kind: 'container', op: 'create', name: 'b'.repeat(64), project: 'other', pid: deadPid() });
  const got = (await engine.pendingChanges('p')).sort((a, b) => a.kind.localeCompare(b.kind));
  t.deepEqual(got, [
    { kind: 'container', op: 'create', name: 'a'.repeat(64), dead: false },
    { kind: 'network', op: 'remove', name: 'p_default', dead: true },
  ]);
  t.deepEqual(await engine.pendingChanges('q'), []);
});

test('recover through the engine: nothing left half made is nothing done', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'tsstack-engine-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const engine = await openEngine({ root, runRoot: join(root, 'run') });
  t.teardown(() => engine.close());
  t.deepEqual(await engine.recover('p'), { done: [], problems: [] });
});
