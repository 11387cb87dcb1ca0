// The client against a small registry of our own on loopback that demands
// bearer tokens (or basic auth), breaks a transfer, or serves corrupt bytes.
import test from 'ava';
import { createServer, type Server } from 'node:http';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ImageStore } from '../../src/engine/image/store.js';
import { parseWwwAuthenticate, credentialsFrom, tokenUrl, isLoopbackHost, loadCredentials } from '../../src/engine/image/registry/auth.js';
import { choosePlatform } from '../../src/engine/image/registry/pull.js';
import { MT } from '../../src/engine/image/oci.js';
import { TsstackError } from '../../src/util/errors.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';
import { makeTar, whiteoutLayers } from './layers-fixture.js';
import { randomBytes } from 'node:crypto';

test('WWW-Authenticate parsing', (t) => {
  t.deepEqual(parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/redis:pull"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/redis:pull' } },
  ]);
  t.deepEqual(parseWwwAuthenticate('Basic realm="Registry Realm", Bearer realm="http://x/t" , service=reg'), [
    { scheme: 'basic', params: { realm: 'Registry Realm' } },
    { scheme: 'bearer', params: { realm: 'http://x/t', service: 'reg' } },
  ]);
  t.deepEqual(parseWwwAuthenticate('Bearer realm="a\\"b"'), [{ scheme: 'bearer', params: { realm: 'a"b' } }]);
  t.is(tokenUrl({ scheme: 'bearer', params: { realm: 'https://a/token', service: 's' } }, ['repository:x:pull']), 'https://a/token?service=s&scope=repository%3Ax%3Apull');
});

test('credentials from a Docker config', (t) => {
  const cfg = { auths: { 'https://index.docker.io/v1/': { auth: Buffer.from('me:pw:with:colons').toString('base64') }, 'reg.example:5000': { auth: Buffer.from('u:p').toString('base64') }, 'tok.example': { registrytoken: 'T' } } };
  t.deepEqual(credentialsFrom(cfg, 'docker.io'), { username: 'me', password: 'pw:with:colons' });
  t.deepEqual(credentialsFrom(cfg, 'reg.example:5000'), { username: 'u', password: 'p' });
  t.deepEqual(credentialsFrom(cfg, 'tok.example'), { token: 'T' });
  t.is(credentialsFrom(cfg, 'other.example'), undefined);
  t.is(credentialsFrom({}, 'docker.io'), undefined);
  t.true(isLoopbackHost('127.0.0.1:5000'));
  t.true(isLoopbackHost('localhost'));
  t.true(isLoopbackHost('[::1]:5000'));
  t.false(isLoopbackHost('10.0.0.1:5000'));
  t.false(isLoopbackHost('example.com'));
});

test.serial('credentials from a credential helper named in the Docker config', (t) => {
  const dir = makeTemp();
  const oldPath = process.env.PATH;
  try {
    const helper = join(dir, 'docker-credential-tsstacktest');
    writeFileSync(helper, '#!/bin/sh\nread server\n[ "$server" = "reg.example:5000" ] && echo \'{"ServerURL":"reg.example:5000","Username":"h","Secret":"s"}\' && exit 0\n[ "$server" = "tok.example" ] && echo \'{"Username":"<token>","Secret":"T2"}\' && exit 0\necho "credentials not found" >&2; exit 1\n', { mode: 0o755 });
    const cfg = join(dir, 'config.json');
    writeFileSync(cfg, JSON.stringify({ credHelpers: { 'reg.example:5000': 'tsstacktest' }, credsStore: 'tsstacktest', auths: { 'direct.example': { auth: Buffer.from('d:p').toString('base64') } } }));
    process.env.PATH = `${dir}:${oldPath}`;
    t.deepEqual(loadCredentials('reg.example:5000', cfg), { username: 'h', password: 's' });
    t.deepEqual(loadCredentials('tok.example', cfg), { token: 'T2' });
    t.deepEqual(loadCredentials('direct.example', cfg), { username: 'd', password: 'p' });
    t.is(loadCredentials('unknown.example', cfg), undefined, 'a helper that fails means no credentials');
    t.is(loadCredentials('x', join(dir, 'missing.json')), undefined);
  } finally {
    process.env.PATH = oldPath;
    rmTemp(dir);
  }
});

test('platform choice from an index', (t) => {
  const d = (architecture: string, variant?: string, os = 'linux') => ({ mediaType: MT.ociManifest, digest: `sha256:${architecture}${variant ?? ''}`, size: 1, platform: { architecture, os, ...(variant ? { variant } : {}) } });
  const list = [d('arm', 'v7'), d('arm64', 'v8'), d('amd64'), d('amd64', undefined, 'windows'), { mediaType: MT.ociManifest, digest: 'sha256:att', size: 1, platform: { architecture: 'unknown', os: 'unknown' } }];
  t.is(choosePlatform(list, { os: 'linux', architecture: 'amd64' })?.digest, 'sha256:amd64');
  t.is(choosePlatform(list, { os: 'linux', architecture: 'arm64', variant: 'v8' })?.digest, 'sha256:arm64v8');
  t.is(choosePlatform(list, { os: 'linux', architecture: 's390x' }), undefined);
});

interface Fake {
  server: Server;
  host: string;
  log: string[];
  mode: { auth: 'bearer' | 'basic' | 'none'; user?: string; pass?: string; breakOnce?: string; corrupt?: string };
}

async function fakeRegistry(src: ImageStore, manifestDigest: string): Promise<Fake> {
  const f: Fake = { server: createServer(), host: '', log: [], mode: { auth: 'bearer' } };
  const broken = new Set<string>();
  f.server.on('request', async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    f.log.push(`${req.method} ${url.pathname}${url.search}${req.headers.range ? ` range=${req.headers.range}` : ''}`);
    const basicOk = req.headers.authorization === 'Basic ' + Buffer.from(`${f.mode.user}:${f.mode.pass}`).toString('base64');
    if (url.pathname === '/token') {
      if (f.mode.user && !basicOk) { res.writeHead(401).end(); return; }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `tok:${url.searchParams.get('scope')}` }));
      return;
    }
    const scope = 'repository:app:pull';
    const authorized = f.mode.auth === 'none' || (f.mode.auth === 'bearer' ? req.headers.authorization === `Bearer tok:${scope}` : basicOk);
    if (!authorized) {
      const ch = f.mode.auth === 'bearer' ? `Bearer realm="http://${f.host}/token",service="fake",scope="${scope}"` : 'Basic realm="fake"';
      res.writeHead(401, { 'www-authenticate': ch }).end();
      return;
    }
    const m = /^\/v2\/app\/(manifests|blobs)\/(.+)$/.exec(url.pathname);
    if (!m) { res.writeHead(url.pathname === '/v2/' ? 200 : 404).end(); return; }
    const digest = m[1] === 'manifests' && m[2] === 'v1' ? manifestDigest : m[2]!;
    if (!src.content.has(digest)) { res.writeHead(404).end(); return; }
    let body = await src.content.read(digest);
    if (m[1] === 'manifests') { res.writeHead(200, { 'content-type': MT.ociManifest }).end(body); return; }
    if (digest === f.mode.corrupt) { body = Buffer.from(body); body[body.length - 1] ^= 0xff; }
    if (digest === f.mode.breakOnce && !broken.has(digest)) {
      broken.add(digest);
      res.writeHead(200, { 'content-length': String(body.length) });
      // give the client time to write what it got before the cut, so there is something to resume from
      res.write(body.subarray(0, body.length >> 1), () => setTimeout(() => res.destroy(), 300));
      return;
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range) {
      const from = Number(range[1]);
      res.writeHead(206, { 'content-range': `bytes ${from}-${body.length - 1}/${body.length}`, 'content-length': String(body.length - from) }).end(body.subarray(from));
      return;
    }
    res.writeHead(200, { 'content-length': String(body.length) }).end(body);
  });
  await new Promise<void>((r) => f.server.listen(0, '127.0.0.1', () => r()));
  f.host = `127.0.0.1:${(f.server.address() as { port: number }).port}`;
  return f;
}

let srcRoot: string;
let src: ImageStore;
let fake: Fake;
let imageId: string;
let layerDigest: string;

test.before(async () => {
  srcRoot = makeTemp();
  src = new ImageStore({ root: srcRoot });
  const [b1, b2] = await whiteoutLayers();
  const l1 = await src.addLayer(Readable.from([b1]));
  const l2 = await src.addLayer(Readable.from([b2]), l1.chainId);
  // big enough that part of it reaches the disk before the fake server cuts the transfer
  const l3 = await src.addLayer(Readable.from([await makeTar([{ name: 'random', data: randomBytes(3 << 20).toString('latin1') }])]), l2.chainId);
  const img = await src.commit({ config: { architecture: 'amd64', os: 'linux' }, layers: [l1, l2, l3], names: ['app:v1'] });
  imageId = img.id;
  layerDigest = l3.digest;
  fake = await fakeRegistry(src, img.digest!);
});

test.after.always(async () => {
  await new Promise((r) => fake?.server.close(r));
  rmTemp(srcRoot);
});

async function withStore(f: (s: ImageStore, root: string) => Promise<void>, opts: Partial<ConstructorParameters<typeof ImageStore>[0]> = {}): Promise<void> {
  const root = makeTemp();
  try { await f(new ImageStore({ root, ...opts }), root); } finally { rmTemp(root); }
}

test.serial('anonymous bearer token flow', async (t) => {
  fake.mode = { auth: 'bearer' };
  fake.log.length = 0;
  await withStore(async (store) => {
    const img = await store.pull(`${fake.host}/app:v1`);
    t.is(img.id, imageId);
    t.true(fake.log.some((l) => l === 'GET /token?service=fake&scope=repository%3Aapp%3Apull'), fake.log.join('\n'));
    t.is(fake.log.filter((l) => l.startsWith('GET /token')).length, 1, 'token reused for every request of the scope');
  });
});

test.serial('bearer token with credentials from the Docker config; wrong password is refused', async (t) => {
  fake.mode = { auth: 'bearer', user: 'alice', pass: 's3cret' };
  await withStore(async (store, root) => {
    const cfg = join(root, 'docker-config.json');
    writeFileSync(cfg, JSON.stringify({ auths: { [fake.host]: { auth: Buffer.from('alice:s3cret').toString('base64') } } }));
    const s = new ImageStore({ root: store.root, dockerConfigPath: cfg });
    t.is((await s.pull(`${fake.host}/app:v1`)).id, imageId);
    writeFileSync(cfg, JSON.stringify({ auths: { [fake.host]: { auth: Buffer.from('alice:wrong').toString('base64') } } }));
    const s2 = new ImageStore({ root: store.root, dockerConfigPath: cfg });
    const e = await t.throwsAsync(s2.pull(`${fake.host}/app:v1`));
    t.is((e as TsstackError).code, 'IMAGE');
    t.regex(e!.message, /token request failed \(401/);
    t.regex((e as TsstackError).hint ?? '', /credentials/);
  });
});

test.serial('basic auth from the Docker config', async (t) => {
  fake.mode = { auth: 'basic', user: 'bob', pass: 'pw' };
  await withStore(async (store, root) => {
    const anon = await t.throwsAsync(store.pull(`${fake.host}/app:v1`));
    t.regex(anon!.message, /denied access/);
    const cfg = join(root, 'docker-config.json');
    writeFileSync(cfg, JSON.stringify({ auths: { [`http://${fake.host}`]: { auth: Buffer.from('bob:pw').toString('base64') } } }));
    t.is((await new ImageStore({ root, dockerConfigPath: cfg }).pull(`${fake.host}/app:v1`)).id, imageId);
  });
});

test.serial('a broken transfer resumes with a Range request', async (t) => {
  fake.mode = { auth: 'none', breakOnce: layerDigest };
  fake.log.length = 0;
  await withStore(async (store) => {
    const img = await store.pull(`${fake.host}/app:v1`);
    t.is(img.id, imageId);
    t.true(fake.log.some((l) => l.startsWith(`GET /v2/app/blobs/${layerDigest} range=bytes=`)), fake.log.join('\n'));
    t.deepEqual(readdirSync(store.content.tmpDir), []);
  });
});

test.serial('a corrupt blob is refused and leaves nothing behind', async (t) => {
  fake.mode = { auth: 'none', corrupt: layerDigest };
  await withStore(async (store) => {
    const e = await t.throwsAsync(store.pull(`${fake.host}/app:v1`));
    t.is((e as TsstackError).code, 'IMAGE');
    t.regex(e!.message, new RegExp(`blob ${layerDigest}.*arrived as`));
    t.false(store.content.has(layerDigest));
    t.deepEqual(readdirSync(store.content.tmpDir), []);
    t.is(await store.inspect(`${fake.host}/app:v1`), undefined);
    t.deepEqual(readdirSync(store.leasesDir), []);
  });
});
