// Builds native/dns/records_test.c with the pure C modules (records, packet, answer)
// and live.c (state files, inotify, on a temp dir) and runs it: literal records and
// queries in, rcodes and answer counts out.
// With sanitizers when the compiler has them, so memory errors fail the test.

import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';

const dir = join(process.cwd(), 'native', 'dns');

test('C unit tests of records, packet, answer and live', (t) => {
  if (!existsSync(join(dir, 'records_test.c'))) return t.fail(`run from the repository root (no ${dir})`);
  const tmp = makeTemp('tsstack-dns-unit-');
  try {
    const out = join(tmp, 'records_test');
    const common = join(dir, '..', 'common');
    const srcs = [...['records_test.c', 'records.c', 'packet.c', 'answer.c', 'live.c'].map((f) => join(dir, f)), join(common, 'json.c'), join(common, 'tsutil.c')];
    const base = ['-g', '-O1', '-Wall', '-Wextra', '-Wno-unused-parameter', '-std=gnu11', '-D_GNU_SOURCE', '-I', dir, '-I', common, '-o', out, ...srcs];
    const cc = process.env.CC || 'cc';
    const san = spawnSync(cc, ['-fsanitize=address,undefined', ...base], { encoding: 'utf8' });
    if (san.status !== 0) {
      t.log('sanitizers unavailable; building without them');
      execFileSync(cc, base);
    }
    const run = spawnSync(out, [], { encoding: 'utf8', env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1', TMPDIR: tmp } });
    t.is(run.status, 0, `${run.stdout}${run.stderr}`);
    t.regex(run.stdout, /^ok$/m);
  } finally {
    rmTemp(tmp);
  }
});
