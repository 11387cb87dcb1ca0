// The CLI writes its lines to descriptors 1 and 2 itself (src/util/std-write.ts), not through Node's
// stdio streams, which it makes only when a descriptor cannot take a write at once. Here its standard
// output is a FIFO whose writing end is non-blocking and whose reader is slow: the output must still
// arrive whole, in order, with the command's exit code. And a reader that stops early is no error.
import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TSSTACK_BIN } from '../helpers/cli-process.js';
import { needs } from '../helpers/skip.js';

// spawn() hands a child blocking stdio (libuv clears O_NONBLOCK): python3 sets it again before Node starts
const NONBLOCKING_STDOUT = 'import fcntl, os, sys; fcntl.fcntl(1, fcntl.F_SETFL, fcntl.fcntl(1, fcntl.F_GETFL) | os.O_NONBLOCK); os.execv(sys.argv[1], sys.argv[1:])';

function bigStack(dir: string, n: number): string {
  const file = join(dir, 'stack.yaml');
  writeFileSync(file, 'services:\n' + Array.from({ length: n }, (_, i) => `  service-${i}:\n    image: busybox:latest\n    command: ["sleep", "${i}"]\n    environment:\n      PADDING: "${'x'.repeat(40)}"\n`).join(''));
  return file;
}

needs('python3')('output larger than a pipe, to a non-blocking descriptor with a slow reader, arrives whole', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-stdwrite-'));
  try {
    const file = bigStack(dir, 1500);
    const fifo = join(dir, 'out');
    execFileSync('mkfifo', [fifo]);
    const r = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const w = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    const env = { ...process.env, TSSTACK_ROOT: join(dir, 'root'), TSSTACK_RUN_ROOT: join(dir, 'run') };
    const child = spawn('python3', ['-c', NONBLOCKING_STDOUT, process.execPath, TSSTACK_BIN, '-f', file, 'config'], { cwd: dir, env, stdio: ['ignore', w, 'pipe'] });
    closeSync(w);
    let err = '';
    child.stderr!.on('data', (d) => { err += d; });
    const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
    const chunks: Buffer[] = [];
    let done = false;
    void exited.then(() => { done = true; });
    const buf = Buffer.alloc(4096);
    for (let idle = 0; idle < 400;) {
      await new Promise((res) => setTimeout(res, 5)); // slow: the pipe fills up between reads
      let n = 0;
      try { n = readSync(r, buf, 0, buf.length, null); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e; }
      if (n > 0) { chunks.push(Buffer.from(buf.subarray(0, n))); idle = 0; } else if (done) idle += 50; else idle++;
    }
    closeSync(r);
    t.is(await exited, 0, err);
    const out = Buffer.concat(chunks).toString();
    t.true(out.length > 200_000, `${out.length} bytes`);
    t.regex(out, /service-0:/);
    t.regex(out, /service-1499:/);
    t.true(out.indexOf('service-0:') < out.indexOf('service-1499:'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a reader that stops early is not an error: the command exits 0', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-stdwrite-'));
  try {
    const file = bigStack(dir, 1500);
    const env = { ...process.env, TSSTACK_ROOT: join(dir, 'root'), TSSTACK_RUN_ROOT: join(dir, 'run') };
    const out = execFileSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${TSSTACK_BIN}" -f "${file}" config | head -c 10; echo " rc=$?"`], { cwd: dir, env, encoding: 'utf8' });
    t.regex(out, / rc=0\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
