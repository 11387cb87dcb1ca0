// src/util/digest.ts: SHA-256 and random bytes through the OpenSSL already in the process, so the
// commands people type do not load node:crypto; the same bytes as node:crypto gives.
import test from 'ava';
import { createHash } from 'node:crypto';
import { nativeDigests, randomBytes, sha256Hex } from '../../src/util/digest.js';

const node = (d: string | Uint8Array) => createHash('sha256').update(d).digest('hex');

test('sha256Hex is SHA-256: the FIPS 180-4 examples and node:crypto on strings, buffers and views', (t) => {
  t.is(sha256Hex(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  t.is(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  t.is(sha256Hex('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'), '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
  for (const s of ['é ü ✓ 𝄞', 'x'.repeat(1 << 20), JSON.stringify({ a: [1, 2, 3], b: 'ç' })]) t.is(sha256Hex(s), node(s));
  const big = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
  t.is(sha256Hex(big), node(big));
  const view = big.subarray(17, 3001); // a view into a larger buffer: only its own bytes
  t.is(sha256Hex(view), node(view));
  const u8 = new Uint8Array(big.buffer, big.byteOffset + 5, 100);
  t.is(sha256Hex(u8), node(u8));
  t.is(sha256Hex(Buffer.alloc(0)), node(''));
});

test('randomBytes gives the size asked for, different every time', (t) => {
  const a = randomBytes(32), b = randomBytes(32);
  t.is(a.length, 32);
  t.is(randomBytes(4).length, 4);
  t.notDeepEqual(a, b);
});

test('on this Node the digests come from the OpenSSL in the process, not node:crypto', (t) => {
  t.true(nativeDigests(), 'SHA256 and RAND_bytes were found in the process');
});
