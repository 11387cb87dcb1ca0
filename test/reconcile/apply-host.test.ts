// reconcile writes nothing on the host itself: bind sources and generated configs/secrets are
// asked of the engine (api.ts HostApi), which alone touches the host.
import test from 'ava';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { up } from '../../src/reconcile/up.js';
import { FakeEngine } from '../fakes/engine.js';
import { model } from './_model.js';

test('up asks the engine to make bind sources and write generated files, and makes nothing itself', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-apply-host-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const e = new FakeEngine();
  e.addImage('busybox', { Cmd: ['sh'] });
  const asked: string[] = [];
  e.host = {
    makeBindSources: async (paths) => { asked.push(...paths.map((p) => `mkdir ${p.slice(dir.length)}`)); },
    writeGeneratedFiles: async (files) => { asked.push(...files.map((f) => `write ${f.path.slice(dir.length).replace(/-[0-9a-f]+$/, '-HASH')}`)); },
    forgetProject: async (project) => { asked.push(`forget ${project}`); },
  };
  const m = model('h', {
    web: {
      image: 'busybox',
      volumes: [{ type: 'bind', source: join(dir, 'data'), target: '/data', bind: { create_host_path: true } }],
      secrets: [{ source: 'token' }],
    },
  }, { secrets: { token: { name: 'h_token', content: 's3cret' } } });
  const r = await up(e, m, { pollMs: 1, filesDir: join(dir, 'files') });
  t.deepEqual(r.result.failed, []);
  t.deepEqual(asked.sort(), ['mkdir /data', 'write /files/secrets/token-HASH']);
  t.false(existsSync(join(dir, 'data')), 'reconcile made no directory itself');
  t.false(existsSync(join(dir, 'files')), 'nor wrote a file');
});
