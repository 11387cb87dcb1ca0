// NODE_EXTRA_CA_CERTS, deferred (src/util/extra-ca.ts): the launcher starts Node without it (Node
// 20 parses its whole root store at start when it is set), puts it back into the command's
// environment, and the registry client trusts those certificates when it connects.
import test from 'ava';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { registryFetch } from '../../src/engine/rootless/dial.js';
import { deferredForOwnRun } from '../../src/util/extra-ca.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(REPO, 'bin', 'tsstack.js');

function tmp(t: { teardown(f: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-extra-ca-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs `file args` with `env`; its stderr, and what a preloaded probe saw of the environment at exit. */
function probe(dir: string, file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ err: string; seen: { env?: string; deferred?: string; kept?: string } }> {
  const out = join(dir, `seen-${Math.random().toString(36).slice(2)}.json`);
  const pre = join(dir, 'probe.cjs');
  writeFileSync(pre, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify({ env: process.env.NODE_EXTRA_CA_CERTS, kept: process.env.TSSTACK_EXTRA_CA_CERTS, deferred: globalThis[Symbol.for('tsstack.deferredExtraCa')] })));\n`);
  return new Promise((resolve) => {
    execFile(file, args, { env: { ...env, NODE_OPTIONS: `--require ${pre}` } }, (_e, _o, err) => resolve({ err: String(err), seen: JSON.parse(readFileSync(out, 'utf8')) }));
  });
}

test('bin/tsstack.js starts Node without NODE_EXTRA_CA_CERTS, and gives it back to the command', async (t) => {
  const dir = tmp(t);
  const missing = join(dir, 'no-such-ca.pem'); // Node warns at start when it reads this variable and the file fails
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: missing, TSSTACK_CODE_CACHE_DIR: 'off' };
  const direct = await probe(dir, BIN, ['--version'], env);
  t.notRegex(direct.err, /Ignoring extra certs/, 'Node did not read the file at its start');
  t.deepEqual(direct.seen, { env: missing, deferred: missing }, "back in the command's environment; left for its TLS clients");
  // started as `node bin/tsstack.js`, Node loads them itself (the warning shows it read the variable)
  const viaNode = await probe(dir, process.execPath, [BIN, '--version'], env);
  t.regex(viaNode.err, /Ignoring extra certs/);
  t.deepEqual(viaNode.seen, { env: missing });
  // without the variable, nothing is set
  const none: NodeJS.ProcessEnv = { ...env };
  delete none.NODE_EXTRA_CA_CERTS;
  t.deepEqual((await probe(dir, BIN, ['--version'], none)).seen, {});
});

test('deploy runs again with Node loading the deferred certificates (its cluster clients take Node\'s defaults)', async (t) => {
  const dir = tmp(t);
  const missing = join(dir, 'no-such-ca.pem');
  writeFileSync(join(dir, 'stack.yaml'), 'services:\n  a:\n    image: busybox\n');
  // an engine root of its own: loading the model writes its cache there, not under /var/lib/tsstack
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_EXTRA_CA_CERTS: missing, TSSTACK_CODE_CACHE_DIR: 'off', HOME: dir, KUBECONFIG: join(dir, 'no-kubeconfig'), TSSTACK_ROOT: join(dir, 'root'), TSSTACK_RUN_ROOT: join(dir, 'run') };
  const { err } = await new Promise<{ err: string }>((resolve) => {
    execFile(BIN, ['-f', join(dir, 'stack.yaml'), 'deploy', '--to', 'kubernetes', '--plan'], { env, cwd: dir }, (_e, _o, e) => resolve({ err: String(e) }));
  });
  t.regex(err, /kubeconfig/, 'it got as far as looking for the cluster');
  // the launcher's Node did not read the file; the second run's did (and said so, once)
  t.is(err.split('Ignoring extra certs').length - 1, 1, err);
});

test('another run of the CLI (rootless namespace, the dashboard\'s lean start) gets them deferred again', (t) => {
  const key = Symbol.for('tsstack.deferredExtraCa');
  const g = globalThis as Record<symbol, unknown>;
  const env = { PATH: '/usr/bin', NODE_EXTRA_CA_CERTS: '/etc/ca.pem' };
  t.is(deferredForOwnRun(env), env, 'not deferred in this process: as it is');
  g[key] = '/etc/ca.pem';
  try {
    t.deepEqual(deferredForOwnRun(env), { PATH: '/usr/bin', TSSTACK_EXTRA_CA_CERTS: '/etc/ca.pem' });
    t.deepEqual(deferredForOwnRun({ PATH: '/usr/bin' }), { PATH: '/usr/bin' }, 'a child given no certificates gets none');
  } finally {
    delete g[key];
  }
});

const openssl = ['/usr/bin/openssl', '/bin/openssl'].find((p) => existsSync(p));
(openssl ? test : test.skip)('the registry client trusts the deferred certificates (an https server of a CA of its own)', async (t) => {
  const dir = tmp(t);
  const ssl = (...a: string[]) => execFileSync(openssl!, a, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=tsstack test CA');
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  ssl('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.pem', '-days', '1', '-extfile', 'ext.cnf');
  const server = createServer({ key: readFileSync(join(dir, 'srv.key')), cert: readFileSync(join(dir, 'srv.pem')) }, (req, res) => {
    if (req.url === '/v2/') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    res.writeHead(302, { location: '/v2/' }).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const trusting = registryFetch({}, join(dir, 'ca.pem'));
  const res = await trusting(`${url}/redirected`);
  t.is(res.status, 200);
  t.deepEqual(await res.json(), {});
  // Node's roots alone do not know that CA: the certificates are what made it work
  await t.throwsAsync(registryFetch({}, undefined)(`${url}/v2/`));
});
