// The rootless CLI's registry connections relayed from the host's network namespace
// (rootless/dial.ts): the request line, refusals passed on, redirects as fetch follows them.
// A plain HTTP server on 127.0.0.1 stands for the registry.
import test from 'ava';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDialLine, relayedFetch, startDialRelay } from '../../src/engine/rootless/dial.js';

test('parseDialLine: a host and a port, nothing else', (t) => {
  t.deepEqual(parseDialLine('registry-1.docker.io 443'), { host: 'registry-1.docker.io', port: 443 });
  t.deepEqual(parseDialLine('[::1] 5000'), { host: '::1', port: 5000 });
  for (const bad of ['host 0', 'host 65536', 'host', 'a b c', 'host 80 ', `${'a'.repeat(256)} 80`, 'ho/st 80']) t.is(parseDialLine(bad), undefined, bad);
});

async function listen(s: Server): Promise<number> {
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as { port: number }).port;
}

test('relayed fetch: bodies both ways, redirects followed (credentials kept on the origin only), refusals named', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-dial-'));
  const seen: string[] = [];
  const other = createServer((req, res) => {
    seen.push(`other ${req.method} ${req.url} auth=${req.headers.authorization ?? '-'}`);
    res.end('blob bytes');
  });
  const otherPort = await listen(other);
  const reg = createServer((req, res) => {
    seen.push(`reg ${req.method} ${req.url} auth=${req.headers.authorization ?? '-'}`);
    if (req.url === '/blob') return void res.writeHead(307, { location: `http://127.0.0.1:${otherPort}/cdn` }).end();
    if (req.url === '/same') return void res.writeHead(302, { location: '/echo' }).end();
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => res.writeHead(201, { 'x-got': String(body.length) }).end(`echo:${body}`));
  });
  const regPort = await listen(reg);
  const relay = await startDialRelay(join(dir, 'd.sock'));
  try {
    const f = relayedFetch(relay.path);
    const put = await f(`http://127.0.0.1:${regPort}/echo`, { method: 'PUT', body: Buffer.from('abc'), headers: { authorization: 'Bearer x' } });
    t.is(put.status, 201);
    t.is(put.headers.get('x-got'), '3');
    t.is(await put.text(), 'echo:abc');
    const blob = await f(`http://127.0.0.1:${regPort}/blob`, { headers: { authorization: 'Bearer x' } });
    t.is(await blob.text(), 'blob bytes');
    const same = await f(`http://127.0.0.1:${regPort}/same`, { headers: { authorization: 'Bearer x' } });
    t.is(await same.text(), 'echo:');
    t.deepEqual(seen, [
      'reg PUT /echo auth=Bearer x',
      'reg GET /blob auth=Bearer x',
      `other GET /cdn auth=-`,
      'reg GET /same auth=Bearer x',
      'reg GET /echo auth=Bearer x',
    ]);
    other.close();
    await new Promise((r) => other.once('close', r));
    const e = await t.throwsAsync(f(`http://127.0.0.1:${otherPort}/`));
    t.is((e as NodeJS.ErrnoException).code, 'ECONNREFUSED');
  } finally {
    await relay.close();
    reg.close();
    other.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a relay socket left by a killed command is swept by the next one; its own goes on close', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-dial-'));
  try {
    const gone = 2 ** 22 + 1; // above pid_max's default range: no such process
    writeFileSync(join(dir, `dial-${gone}.sock`), '');
    writeFileSync(join(dir, `dial-${process.pid}.sock.keep`), '');
    const relay = await startDialRelay(join(dir, `dial-${process.pid}.sock`));
    t.deepEqual(readdirSync(dir).sort(), [`dial-${process.pid}.sock`, `dial-${process.pid}.sock.keep`]);
    await relay.close();
    t.deepEqual(readdirSync(dir), [`dial-${process.pid}.sock.keep`]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
