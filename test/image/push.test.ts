// Pushes to a real registry (Debian's docker-registry on loopback), seen
// through a small counting proxy that logs every call (and can demand a bearer
// token); skopeo and tsstack pull the images back.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { join } from 'node:path';
import { ImageStore } from '../../src/engine/image/store.js';
import { withDigest } from '../../src/engine/image/registry/push.js';
import { envInsecureRegistries } from '../../src/engine/image/registry/client.js';
import { TsstackError } from '../../src/util/errors.js';
import { MT, canonicalJson, digestHex, sha256Digest, type Manifest } from '../../src/engine/image/oci.js';
import { makeBusyboxImage } from '../helpers/images.js';
import { makeBusyboxRootfs, makeTemp, rmTemp } from '../helpers/rootfs.js';
import { startRegistry, haveRegistry, haveSkopeo, skopeo, freePort, type TestRegistry } from '../helpers/registry.js';
import { skipWhen } from '../helpers/skip.js';
import { Sandbox } from '../examples/_cli.js';

const ok = haveRegistry() && haveSkopeo();
let reg: TestRegistry | undefined;
let proxy: Proxy | undefined;
let root: string;
let store: ImageStore;
let bbId: string;
let seq = 0;

/** A store of its own holding a busybox image (so no other test's pushes offer mounts). */
async function ownStore(): Promise<{ s: ImageStore; id: string }> {
  const s = new ImageStore({ root: join(root, `own-${++seq}`) });
  return { s, id: (await makeBusyboxImage(s, 'bb:latest')).id };
}

interface Proxy {
  host: string;
  /** `METHOD path?query status` per call. */
  log: string[];
  /** When set, every call needs `Authorization: Bearer <token>`, from `/token` with basic auth `u:p`. */
  bearer?: { token: string; user: string; pass: string; scopes: string[] };
  /** When set, upload Locations are moved to this origin (a hostile registry). */
  moveLocationTo?: string;
  close(): Promise<void>;
}

/** Forwards to `target` unchanged (Host kept, so the registry's Location points back here). */
async function countingProxy(target: number, bind = '127.0.0.1'): Promise<Proxy> {
  const port = await freePort();
  const p: Proxy = { host: `${bind}:${port}`, log: [], close: async () => {} };
  const server: Server = createServer((req, res) => {
    const b = p.bearer;
    if (b && req.url!.startsWith('/token')) {
      const want = 'Basic ' + Buffer.from(`${b.user}:${b.pass}`).toString('base64');
      b.scopes.push(...new URL(req.url!, 'http://x').searchParams.getAll('scope'));
      if (req.headers.authorization !== want) { res.writeHead(401).end(); return; }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: b.token }));
      return;
    }
    if (b && req.headers.authorization !== `Bearer ${b.token}`) {
      req.resume();
      p.log.push(`${req.method} ${req.url} 401`);
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${p.host}/token",service="test"` }).end();
      return;
    }
    const { authorization: _a, ...headers } = req.headers;
    const up = httpRequest({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers }, (r) => {
      p.log.push(`${req.method} ${req.url} ${r.statusCode}`);
      const loc = r.headers.location;
      if (p.moveLocationTo && loc) r.headers.location = p.moveLocationTo + new URL(loc, 'http://x').pathname;
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(port, bind, r));
  p.close = () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); });
  return p;
}

const calls = (p: Proxy, re: RegExp): string[] => p.log.filter((l) => re.test(l));

test.before(async () => {
  if (!ok) return;
  reg = await startRegistry();
  proxy = await countingProxy(reg.port);
  root = makeTemp();
  store = new ImageStore({ root: join(root, 'src') });
  bbId = (await makeBusyboxImage(store, 'bb:latest')).id;
});

test.after.always(async () => {
  await proxy?.close();
  await reg?.stop();
  if (root) rmTemp(root);
});

async function freshStore(f: (s: ImageStore) => Promise<void>): Promise<void> {
  const dir = makeTemp();
  try { await f(new ImageStore({ root: dir })); } finally { rmTemp(dir); }
}

test('upload locations: digest= added to relative and absolute ones, their own query kept', (t) => {
  t.is(withDigest('/v2/a/blobs/uploads/u1?_state=x', 'sha256:ab'), '/v2/a/blobs/uploads/u1?_state=x&digest=sha256%3Aab');
  t.is(withDigest('http://h:5/v2/a/blobs/uploads/u1', 'sha256:ab'), 'http://h:5/v2/a/blobs/uploads/u1?digest=sha256%3Aab');
  t.deepEqual(envInsecureRegistries({ TSSTACK_INSECURE_REGISTRIES: 'a:5000, b.example ,c' }), ['a:5000', 'b.example', 'c']);
  t.deepEqual(envInsecureRegistries({}), []);
});

skipWhen(!ok, 'docker-registry or skopeo missing').serial('push busybox: skopeo and tsstack pull it back with the same digests; a second push uploads no blob', async (t) => {
  const ref = `${proxy!.host}/bb:1`;
  await store.tag('bb:latest', ref);
  const lines: string[] = [];
  proxy!.log.length = 0;
  const { digest } = await store.push(ref, (l) => lines.push(l));
  const rec = store.record(bbId)!;
  t.is(digest, rec.digest, 'the stored manifest goes up unchanged');
  t.true(lines.some((l) => /: Pushed$/.test(l)), lines.join('\n'));
  t.is(calls(proxy!, /^PUT \/v2\/bb\/blobs\/uploads\/.*digest=.* 201$/).length, 2, 'config and layer, each one monolithic PUT');
  t.is(calls(proxy!, /^PATCH /).length, 0);

  const inspect = JSON.parse((await skopeo(['inspect', '--tls-verify=false', `docker://${ref}`])).stdout) as { Digest: string; Layers: string[] };
  t.is(inspect.Digest, digest);
  t.deepEqual(inspect.Layers, rec.layers.map((l) => l.digest));
  const out = join(root, 'copied');
  // dir: keeps the manifest byte for byte (an oci: layout would convert a Docker one)
  await skopeo(['copy', '--quiet', '--insecure-policy', '--src-tls-verify=false', `docker://${ref}`, `dir:${out}`]);
  t.is(sha256Digest(readFileSync(join(out, 'manifest.json'))), digest, 'skopeo copies back the same manifest');
  for (const l of rec.layers) t.is(sha256Digest(readFileSync(join(out, digestHex(l.digest)))), l.digest);

  await freshStore(async (s) => {
    const img = await s.pull(ref);
    t.is(img.id, bbId, 'tsstack pulls back the same image id');
    t.is(img.digest, digest);
  });

  proxy!.log.length = 0;
  const again: string[] = [];
  t.is((await store.push(ref, (l) => again.push(l))).digest, digest);
  t.deepEqual(calls(proxy!, /^(POST|PATCH)|^PUT .*blobs/), [], 'no upload the second time');
  t.is(calls(proxy!, /^HEAD .* 200$/).length, 2);
  t.true(again.every((l) => !/Pushed$/.test(l)) && again.some((l) => /Layer already exists/.test(l)), again.join('\n'));
});

skipWhen(!ok, 'docker-registry or skopeo missing').serial('a chunked upload: PATCH chunks with Content-Range, then PUT', async (t) => {
  const ref = `${proxy!.host}/chunked:1`;
  const { s, id } = await ownStore();
  await s.tag('bb:latest', ref);
  proxy!.log.length = 0;
  const { pushImage } = await import('../../src/engine/image/registry/push.js');
  const { digest } = await pushImage(s, ref, { chunkSize: 256 * 1024 });
  const layer = s.record(id)!.layers[0]!;
  const patches = calls(proxy!, /^PATCH \/v2\/chunked\/blobs\/uploads\/.* 202$/);
  t.is(patches.length, Math.ceil(layer.size / (256 * 1024)), `layer of ${layer.size} bytes`);
  t.true(patches.length > 1);
  t.is(calls(proxy!, /^PUT \/v2\/chunked\/blobs\/uploads\/.* 201$/).length, 2);
  const inspect = JSON.parse((await skopeo(['inspect', '--tls-verify=false', `docker://${ref}`])).stdout) as { Digest: string };
  t.is(inspect.Digest, digest);
  await freshStore(async (f) => { t.is((await f.pull(ref)).id, id); });
});

skipWhen(!ok, 'docker-registry or skopeo missing').serial('a second repository of the same registry mounts the blobs instead of uploading them', async (t) => {
  const first = `${proxy!.host}/mount-a:1`;
  const second = `${proxy!.host}/team/mount-b:1`;
  const { s } = await ownStore();
  await s.tag('bb:latest', first);
  await s.tag('bb:latest', second);
  await s.push(first);
  proxy!.log.length = 0;
  const lines: string[] = [];
  const { digest } = await s.push(second, (l) => lines.push(l));
  t.is(calls(proxy!, /^POST \/v2\/team\/mount-b\/blobs\/uploads\/\?mount=sha256.*&from=mount-a 201$/).length, 2, proxy!.log.join('\n'));
  t.deepEqual(calls(proxy!, /^(PATCH|PUT .*blobs)/), [], 'nothing uploaded');
  t.is(lines.filter((l) => / Mounted from /.test(l)).length, 2, lines.join('\n'));
  const inspect = JSON.parse((await skopeo(['inspect', '--tls-verify=false', `docker://${second}`])).stdout) as { Digest: string };
  t.is(inspect.Digest, digest);
});

skipWhen(!ok, 'docker-registry or skopeo missing').serial('a multi-platform image whose every platform is in the store goes up as its index; with one missing, as its own manifest', async (t) => {
  const { s, id } = await ownStore();
  const rec = s.record(id)!;
  const manifestBytes = await s.content.read(rec.digest);
  const amd = JSON.parse((await s.content.read(id)).toString());
  const armCfg = await s.content.put(canonicalJson({ ...amd, architecture: 'arm64', variant: 'v8' }));
  const armManifest = { ...(JSON.parse(manifestBytes.toString()) as Manifest), config: { mediaType: MT.ociConfig, digest: armCfg.digest, size: armCfg.size } };
  const armM = await s.content.put(canonicalJson(armManifest));
  const index = canonicalJson({
    schemaVersion: 2, mediaType: MT.ociIndex,
    manifests: [
      { mediaType: rec.manifestMediaType, digest: rec.digest, size: manifestBytes.length, platform: { architecture: 'amd64', os: 'linux' } },
      { mediaType: MT.ociManifest, digest: armM.digest, size: armM.size, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
    ],
  });
  const idx = await s.content.put(index);
  // Both platforms recorded with the index, as a load of a complete multi-platform layout leaves them.
  await s.ingest({ manifestDigest: rec.digest, manifest: JSON.parse(manifestBytes.toString()) as Manifest, manifestMediaType: rec.manifestMediaType, names: [], indexDigests: [idx.digest] });
  await s.ingest({ manifestDigest: armM.digest, manifest: armManifest, manifestMediaType: MT.ociManifest, names: ['arm:1'], indexDigests: [idx.digest] });
  const ref = `${proxy!.host}/multi:1`;
  await s.tag('bb:latest', ref);
  proxy!.log.length = 0;
  const { digest } = await s.push(ref);
  t.is(digest, idx.digest, 'the index goes up unchanged');
  t.deepEqual(calls(proxy!, /^PUT \/v2\/multi\/manifests\//).map((l) => l.split(' ')[1]), [`/v2/multi/manifests/${rec.digest}`, `/v2/multi/manifests/${armM.digest}`, '/v2/multi/manifests/1'], 'children by digest, then the index by tag');
  const raw = (await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${ref}`])).stdout;
  t.is(sha256Digest(Buffer.from(raw)), idx.digest);
  const armRaw = (await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${proxy!.host}/multi@${armM.digest}`])).stdout;
  t.is(sha256Digest(Buffer.from(armRaw)), armM.digest);
  const arm = JSON.parse((await skopeo(['inspect', '--tls-verify=false', '--override-arch', 'arm64', '--override-variant', 'v8', `docker://${ref}`])).stdout) as { Architecture: string };
  t.is(arm.Architecture, 'arm64', 'skopeo picks the arm64 image from the pushed index');
  await freshStore(async (f) => {
    const img = await f.pull(ref);
    t.is(img.id, id);
    t.deepEqual(f.record(img.id)!.indexDigests, [idx.digest]);
  });

  // The arm64 image gone (its config pruned): the index cannot go up whole, the image's own manifest does.
  await s.remove('arm:1', { force: true });
  await s.prune();
  const ref2 = `${proxy!.host}/single:1`;
  await s.tag('bb:latest', ref2);
  t.is((await s.push(ref2)).digest, rec.digest);
});

skipWhen(!ok, 'docker-registry or skopeo missing').serial('bearer token flow: credentials from a Docker config, a token with push scope; none: denied', async (t) => {
  proxy!.bearer = { token: 'tok-' + Date.now(), user: 'alice', pass: 's3cret', scopes: [] };
  const cfgDir = makeTemp();
  try {
    const cfg = join(cfgDir, 'config.json');
    writeFileSync(cfg, JSON.stringify({ auths: { [proxy!.host]: { auth: Buffer.from('alice:s3cret').toString('base64') } } }));
    const s = new ImageStore({ root: store.root, dockerConfigPath: cfg });
    const ref = `${proxy!.host}/tok:1`;
    await s.tag('bb:latest', ref);
    t.is((await s.push(ref)).digest, store.record(bbId)!.digest);
    t.true(proxy!.bearer.scopes.includes('repository:tok:pull,push'), proxy!.bearer.scopes.join(' '));
    const anon = new ImageStore({ root: store.root, dockerConfigPath: join(cfgDir, 'none.json') });
    const e = await t.throwsAsync(anon.push(ref));
    t.is((e as TsstackError).code, 'IMAGE');
    t.regex(e!.message, new RegExp(`${proxy!.host.replace(/\./g, '\\.')}.*token request failed|denied`));
  } finally {
    delete proxy!.bearer;
    rmTemp(cfgDir);
  }
});

skipWhen(!ok, 'docker-registry or skopeo missing').serial('htpasswd (basic auth): pushes with the credentials of a Docker config in $HOME, refused without', async (t) => {
  const dir = makeTemp();
  let authReg: TestRegistry | undefined;
  try {
    const hash = execFileSync('python3', ['-W', 'ignore', '-c', 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))', 'pw-bob'], { encoding: 'utf8' }).trim();
    writeFileSync(join(dir, 'htpasswd'), `bob:${hash}\n`);
    authReg = await startRegistry({ htpasswd: join(dir, 'htpasswd') });
    const ref = `${authReg.host}/private/bb:1`;
    await store.tag('bb:latest', ref);
    const anon = new ImageStore({ root: store.root, dockerConfigPath: join(dir, 'none.json') });
    const e = await t.throwsAsync(anon.push(ref));
    t.is((e as TsstackError).code, 'IMAGE');
    t.regex(e!.message, new RegExp(`^cannot push ${authReg.host.replace(/\./g, '\\.')}/private/bb:1: registry ${authReg.host.replace(/\./g, '\\.')} denied pushing to /v2/private/bb/`));

    // The default config path: $HOME/.docker/config.json of a HOME made here.
    mkdirSync(join(dir, 'home/.docker'), { recursive: true });
    writeFileSync(join(dir, 'home/.docker/config.json'), JSON.stringify({ auths: { [authReg.host]: { auth: Buffer.from('bob:pw-bob').toString('base64') } } }));
    const old = { HOME: process.env.HOME, DOCKER_CONFIG: process.env.DOCKER_CONFIG };
    process.env.HOME = join(dir, 'home');
    delete process.env.DOCKER_CONFIG;
    let digest: string;
    try {
      digest = (await new ImageStore({ root: store.root }).push(ref)).digest;
    } finally {
      for (const [k, v] of Object.entries(old)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
    const inspect = JSON.parse((await skopeo(['inspect', '--tls-verify=false', '--creds', 'bob:pw-bob', `docker://${ref}`])).stdout) as { Digest: string };
    t.is(inspect.Digest, digest);
    await t.throwsAsync(skopeo(['inspect', '--tls-verify=false', `docker://${ref}`]), undefined, 'the registry really wants a login');
  } finally {
    await authReg?.stop();
    rmTemp(dir);
  }
});

skipWhen(!ok || process.getuid?.() !== 0, 'docker-registry or skopeo missing, or not root').serial('a plain-HTTP registry off loopback is refused unless TSSTACK_INSECURE_REGISTRIES lists it', async (t) => {
  // An address of the test's own network namespace (test.sh), on its loopback device.
  const addr = '192.0.2.77';
  execFileSync('ip', ['addr', 'add', `${addr}/32`, 'dev', 'lo']);
  let far: Proxy | undefined;
  const old = process.env.TSSTACK_INSECURE_REGISTRIES;
  try {
    far = await countingProxy(reg!.port, addr);
    const ref = `${far.host}/far:1`;
    await store.tag('bb:latest', ref);
    const e = await t.throwsAsync(store.push(ref));
    t.is((e as TsstackError).code, 'IMAGE');
    t.regex(e!.message, new RegExp(`^cannot push ${far.host.replace(/\./g, '\\.')}/far:1: cannot reach registry ${far.host.replace(/\./g, '\\.')} \\(https://`));
    t.regex((e as TsstackError).hint ?? '', /insecure/);
    t.deepEqual(far.log, [], 'no plain-HTTP call was made');
    process.env.TSSTACK_INSECURE_REGISTRIES = `other:5000,${far.host}`;
    t.is((await store.push(ref)).digest, store.record(bbId)!.digest);
    t.true(far.log.some((l) => /^PUT \/v2\/far\/manifests\/1 201$/.test(l)));
  } finally {
    if (old === undefined) delete process.env.TSSTACK_INSECURE_REGISTRIES; else process.env.TSSTACK_INSECURE_REGISTRIES = old;
    await far?.close();
    execFileSync('ip', ['addr', 'del', `${addr}/32`, 'dev', 'lo']);
  }
});

skipWhen(!ok, 'docker-registry or skopeo missing').serial('an upload location on another origin is refused: nothing (no credentials) goes there', async (t) => {
  const other = await countingProxy(reg!.port);
  const { s } = await ownStore();
  try {
    proxy!.moveLocationTo = `http://${other.host}`;
    const ref = `${proxy!.host}/moved:1`;
    await s.tag('bb:latest', ref);
    const e = await t.throwsAsync(s.push(ref));
    t.is((e as TsstackError).code, 'IMAGE');
    t.regex(e!.message, new RegExp(`sent an upload location on another origin \\(http://${other.host.replace(/\./g, '\\.')}\\)`));
    t.deepEqual(other.log, []);
  } finally {
    delete proxy!.moveLocationTo;
    await other.close();
  }
});

skipWhen(!ok, 'docker-registry or skopeo missing').serial('push errors: an image not in the store is exit-3 NOT_FOUND, an image id is refused, a dead registry is IMAGE', async (t) => {
  const e1 = await t.throwsAsync(store.push(`${proxy!.host}/nothing:1`));
  t.is((e1 as TsstackError).code, 'NOT_FOUND');
  t.regex(e1!.message, /nothing:1: no such image/);
  const e2 = await t.throwsAsync(store.push(bbId.slice(7, 19)));
  t.is((e2 as TsstackError).code, 'USAGE');
  await store.tag('bb:latest', '127.0.0.1:1/dead:1');
  const e3 = await t.throwsAsync(store.push('127.0.0.1:1/dead:1'));
  t.is((e3 as TsstackError).code, 'IMAGE');
  t.regex(e3!.message, /^cannot push 127\.0\.0\.1:1\/dead:1: cannot reach registry 127\.0\.0\.1:1/);
});

skipWhen(!ok || process.getuid?.() !== 0, 'docker-registry or skopeo missing, or not root').serial('CLI: image push REF, push [SERVICE…] of a stack, exit 3 for an image never built', async (t) => {
  const b = new Sandbox();
  t.teardown(() => b.dispose());
  const rootfs = join(b.base, 'rootfs');
  mkdirSync(rootfs);
  makeBusyboxRootfs(rootfs);
  const web = `${proxy!.host}/stack/web:2`;
  const imp = await b.tsstack('image', 'import', rootfs, web);
  t.is(imp.code, 0, imp.err);
  const id = imp.out.trim();
  const one = await b.tsstack('image', 'push', web);
  t.is(one.code, 0, one.err);
  t.regex(one.out.trim(), /^sha256:[0-9a-f]{64}$/);
  t.regex(one.err, /Pushed/);
  t.is((await b.tsstack('image', 'tag', web, '127.0.0.1:1/dead:1')).code, 0);
  const dead = await b.tsstack('image', 'push', '127.0.0.1:1/dead:1');
  t.is(dead.code, 5, dead.err);
  t.regex(dead.err, /cannot push 127\.0\.0\.1:1\/dead:1: cannot reach registry 127\.0\.0\.1:1/);

  const dir = join(b.base, 'proj');
  mkdirSync(dir);
  writeFileSync(join(dir, 'stack.yaml'), `services:\n  web:\n    image: ${web}\n  db:\n    image: ${proxy!.host}/stack/db:1\n  side:\n    build: .\n`);
  const push = await b.exec('node', [join(process.cwd(), 'bin/tsstack.js'), '-f', join(dir, 'stack.yaml'), 'push', 'web'], { cwd: dir });
  t.is(push.code, 0, push.err);
  t.regex(push.err, new RegExp(`${web.replace(/[./]/g, '\\$&')}  Pushed sha256:`));
  const all = await b.exec('node', [join(process.cwd(), 'bin/tsstack.js'), '-f', join(dir, 'stack.yaml'), 'push'], { cwd: dir });
  t.is(all.code, 3, all.err);
  t.regex(all.err, /db:1: no such image in the image store/);

  await freshStore(async (s) => { t.is((await s.pull(web)).id, id); });

  // build --push: the built image goes to the registry its image: name says; image build --push to each -t
  writeFileSync(join(dir, 'f.txt'), 'built\n');
  writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\nCOPY f.txt /f.txt\n');
  const built = `${proxy!.host}/stack/built:1`;
  writeFileSync(join(dir, 'stack.yaml'), `services:\n  app:\n    build: .\n    image: ${built}\n`);
  const bp = await b.exec('node', [join(process.cwd(), 'bin/tsstack.js'), '-f', join(dir, 'stack.yaml'), 'build', '--push'], { cwd: dir });
  t.is(bp.code, 0, bp.err);
  t.regex(bp.err, /Pushed sha256:/);
  const ib = await b.tsstack('image', 'build', '--push', '-q', '-t', `${proxy!.host}/stack/ib:1`, dir);
  t.is(ib.code, 0, ib.err);
  for (const r of [built, `${proxy!.host}/stack/ib:1`]) {
    const inspect = JSON.parse((await skopeo(['inspect', '--tls-verify=false', `docker://${r}`])).stdout) as { Layers: string[] };
    t.is(inspect.Layers.length, 1, r);
  }
  const noTag = await b.tsstack('image', 'build', '--push', dir);
  t.is(noTag.code, 2);
  t.regex(noTag.err, /--push needs a name/);
});
