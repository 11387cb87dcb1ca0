// reconcile writes nothing on the host itself: bind sources and generated configs/secrets are
// asked of the engine (api.ts HostApi), which alone touches the host.
import test from 'ava';
import { up } from '../../src/reconcile/up.js';
import { FakeEngine } from '../fakes/engine.js';
import { model } from './_model.js';

test('up asks the engine to make bind sources and write generated files, and makes nothing itself', async (t) => {
  const e = new FakeEngine();
  e.addImage('busybox', { Cmd: ['sh'] });
  const asked: string[] = [];
  e.host = {
    makeBindSources: async (paths) => { asked.push(...paths.map((p) => `mkdir ${p}`)); },
    writeGeneratedFiles: async (files) => { asked.push(...files.map((f) => `write ${f.path.replace(/-[0-9a-f]+$/, '-HASH')}`)); },
  };
  const m = model('h', {
    web: {
      image: 'busybox',
      volumes: [{ type: 'bind', source: '/nonexistent/tsstack-test/data', target: '/data', bind: { create_host_path: true } }],
      secrets: [{ source: 'token' }],
    },
  }, { secrets: { token: { name: 'h_token', content: 's3cret' } } });
  const r = await up(e, m, { pollMs: 1, filesDir: '/nonexistent/tsstack-test/files' });
  t.deepEqual(r.result.failed, []);
  t.deepEqual(asked.sort(), ['mkdir /nonexistent/tsstack-test/data', 'write /nonexistent/tsstack-test/files/secrets/token-HASH']);
  const { existsSync } = await import('node:fs');
  t.false(existsSync('/nonexistent/tsstack-test'));
});
