// Temp files of atomic writes carry their writer's pid; recovery removes those whose writer is dead,
// never a live writer's, nor a file of any other name. Intents list and end.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noSpace, removeDeadTemps, tempWriter, writeFileAtomicSync } from '../../src/util/fs-atomic.js';
import { projectIntent, beginIntent, endIntent, listIntents } from '../../src/engine/intents.js';

/** A pid that just ended (reuse within the test is as unlikely as it gets). */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());
}

test('removeDeadTemps removes the temps of dead writers only', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-temps-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dead = deadPid();
  writeFileAtomicSync(join(dir, 'state.json'), '{}');
  t.deepEqual(readdirSync(dir), ['state.json'], 'a completed write leaves no temp');
  const names = [`.state.json.${dead}.abc123.tmp`, `.state.json.${process.pid}.def456.tmp`, 'state.json', '.other', `x.${dead}.tmp`];
  for (const n of names.slice(1)) if (n !== 'state.json') writeFileSync(join(dir, n), '');
  writeFileSync(join(dir, names[0]!), '');
  t.is(tempWriter(names[0]!), dead);
  t.is(tempWriter('state.json'), undefined);
  t.deepEqual(removeDeadTemps(dir), [names[0]]);
  t.deepEqual(readdirSync(dir).sort(), [names[1], '.other', 'state.json', `x.${dead}.tmp`].sort());
  t.deepEqual(removeDeadTemps(join(dir, 'absent')), []);
});

test('a full disk is an error for people, naming the file', (t) => {
  const e = noSpace(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }), '/r/containers/x/container.json');
  t.is(e?.code, 'HOST');
  t.regex(e!.message, /no space left to write \/r\/containers\/x\/container\.json/);
  t.regex(noSpace(Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' }))!.message, /no space left on a file system/);
  t.is(noSpace(Object.assign(new Error('x'), { code: 'EACCES' }), '/r'), undefined);
});

test('intents: begun, listed with the writer pid, ended', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'tsstack-intents-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  t.false(projectIntent(root, 'p'));
  beginIntent(root, { kind: 'network', op: 'create', name: 'p_default', project: 'p' });
  beginIntent(root, { kind: 'container', op: 'remove', name: 'a'.repeat(64), project: 'p' });
  t.true(projectIntent(root, 'p'));
  t.false(projectIntent(root, 'q'), "another project's intents do not count");
  t.deepEqual(listIntents(root).map((i) => `${i.kind} ${i.op} ${i.name.slice(0, 4)} ${i.pid === process.pid}`).sort(), ['container remove aaaa true', 'network create p_de true']);
  endIntent(root, 'network', 'p_default');
  endIntent(root, 'container', 'a'.repeat(64));
  t.false(projectIntent(root, 'p'));
  t.true(existsSync(join(root, 'intents')));
});
