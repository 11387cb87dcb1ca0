// End to end with the real engine: DNS names follow the container state (stop,
// kill, start), internal networks are marked for the DNS server, and `init: true`
// through the whole path (stack file → reconcile → runtime).
import test from 'ava';
import { isolateNetwork } from './_netns.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, type StdioOptions } from 'node:child_process';
import { canRun, E2E, leftovers, world as baseWorld } from './_world.js';
import { needs } from '../helpers/skip.js';
import { dnsServerDir } from '../../src/engine/dns/paths.js';
import { BUSYBOX } from '../helpers/rootfs.js';

isolateNetwork();

function world() {
  const w = baseWorld();
  const stack = (yaml: string) => writeFileSync(join(w.dir, 'stack.yaml'), yaml);
  const T = (...argv: string[]) => w.runEnv({ TSSTACK_PROJECT_NAME: undefined }, '-f', join(w.dir, 'stack.yaml'), '-p', 'gaps', ...argv);
  /** The installed command as its own process (its real stdio, signals), on this world's stack. */
  const bin = (argv: string[], stdio: StdioOptions) => spawn(process.execPath, [join(process.cwd(), 'bin/tsstack.js'), '-f', join(w.dir, 'stack.yaml'), '-p', 'gaps', ...argv], {
    cwd: w.dir, stdio, env: { ...process.env, TSSTACK_ROOT: w.root, TSSTACK_RUN_ROOT: join(w.root, 'run') },
  });
  return { ...w, stack, T, bin };
}

const STACK = `
services:
  a:
    image: busybox:latest
    command: ["sleep", "1000"]
    init: true
    networks: [front]
  b:
    image: busybox:latest
    command: ["sleep", "1000"]
    init: true
    networks: [front]
  c:
    image: busybox:latest
    command: ["sleep", "1000"]
    init: true
    networks: [back]
networks:
  front: {}
  back:
    internal: true
`;

needs(...E2E).serial('DNS answers for running containers only: stop and kill take the name away, start gives it back; internal networks are marked', async (t) => {
  const w = world();
  try {
    await w.busybox('busybox:latest');
    w.stack(STACK);
    const up = await w.T('up', '-d');
    t.is(up.code, 0, up.err);
    const resolves = async (from: string, name: string) => (await w.T('exec', '-T', from, 'sh', '-c', `nslookup ${name} >/dev/null 2>&1`)).code === 0;
    t.true(await resolves('a', 'b'), 'b resolves while it runs');
    t.true(await resolves('c', 'c'));

    // init: true — `sleep` is not pid 1, and stops on SIGTERM well within the 10 s default grace period
    const pid1 = await w.T('exec', '-T', 'b', 'sh', '-c', 'tr "\\0" " " < /proc/1/cmdline | grep -q "^/dev/init -- sleep 1000"');
    t.is(pid1.code, 0, 'tsstack-init is pid 1');
    t.is((await w.T('stop', 'b')).code, 0);
    t.is(JSON.parse((await w.T('ps', '-a', '--format', 'json', 'b')).out)[0].ExitCode, 143, 'sleep ended by the forwarded SIGTERM');
    t.false(await resolves('a', 'b'), 'a stopped container has no name');
    t.is((await w.T('start', 'b')).code, 0);
    t.true(await resolves('a', 'b'), 'started again: the name is back');
    t.is((await w.T('kill', 'b')).code, 0);
    t.false(await resolves('a', 'b'), 'a killed container (no restart policy) has no name');

    // the internal network is given to the DNS server as internal (names not local are refused, not forwarded)
    const state = JSON.parse(readFileSync(join(dnsServerDir(join(w.root, 'run')), 'state.json'), 'utf8')) as { networks: Record<string, unknown> };
    t.like(state.networks['gaps_back'], { internal: true });
    t.is(typeof state.networks['gaps_front'], 'string');
    t.is((await w.T('down', '-t', '1')).code, 0);
    t.deepEqual(leftovers(w.root), []);
  } finally {
    await w.T('down', '-v', '-t', '1').catch(() => {});
    w.dispose();
  }
});

// As Compose: a one-off container gets the service's name and network aliases only with --use-aliases,
// else lookups of the service's name would reach it beside the service's own containers.
needs(...E2E).serial('a one-off container of run answers to its own name only; with --use-aliases to the service\'s too', async (t) => {
  const w = world();
  try {
    await w.busybox('busybox:latest');
    w.stack(STACK);
    t.is((await w.T('up', '-d', 'a', 'b')).code, 0);
    // how many addresses `name` resolves to, as seen from a (the exit code: exec's output is not captured here)
    const count = async (name: string) =>
      (await w.T('exec', '-T', 'a', 'sh', '-c', `exit $(nslookup -type=a ${name} 2>/dev/null | awk '/^Address/ && $2 !~ /:/' | wc -l)`)).code;
    t.is(await count('b'), 1);
    const plain = await w.T('run', '-d', '--name', 'gaps-b-plain', 'b');
    t.is(plain.code, 0, plain.err);
    t.is(await count('b'), 1, 'the one-off is not among the service\'s addresses');
    t.is(await count('b.gaps'), 1);
    t.is(await count('gaps-b-plain'), 1, 'the one-off resolves by its own name');
    const aliased = await w.T('run', '-d', '--use-aliases', '--name', 'gaps-b-aliased', 'b');
    t.is(aliased.code, 0, aliased.err);
    t.is(await count('gaps-b-aliased'), 1);
    t.is(await count('b'), 2, 'with --use-aliases the one-off answers to the service\'s name too');
    t.is(await count('b.gaps'), 2);
    t.is((await w.T('down', '-t', '1')).code, 0);
    t.deepEqual(leftovers(w.root), []);
  } finally {
    await w.T('down', '-v', '-t', '1').catch(() => {});
    w.dispose();
  }
});

needs(...E2E).serial('run -it and exec -it get a real pty from a terminal; run and exec pass a piped stdin on, with -i or without (as Compose), not with --no-interactive', async (t) => {
  const { execFileSync } = await import('node:child_process');
  const w = world();
  try {
    await w.busybox('busybox:latest');
    w.stack('services:\n  box:\n    image: busybox:latest\n    command: ["sleep", "1000"]\n    init: true\n');
    t.is((await w.T('up', '-d')).code, 0);
    const cli = [process.execPath, join(process.cwd(), 'bin', 'tsstack.js'), '-f', join(w.dir, 'stack.yaml'), '-p', 'gaps'];
    const env = { ...process.env, TSSTACK_ROOT: w.root, TSSTACK_RUN_ROOT: join(w.root, 'run') };
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const run = (argv: string[], opts: { input?: string; terminal?: boolean }) => {
      // `script` gives the CLI a pty as its stdio, as a user's shell would
      const [cmd, ...args] = opts.terminal ? ['script', '-qec', argv.map(q).join(' '), '/dev/null'] : argv;
      try {
        return { out: execFileSync(cmd!, args, { env, cwd: w.dir, encoding: 'utf8', input: opts.input, timeout: 30_000 }), code: 0 };
      } catch (e) {
        const x = e as { status: number; stdout: string };
        return { out: x.stdout, code: x.status };
      }
    };
    const probe = 'tty; test -t 0 && echo stdin-is-a-tty; exit 5';
    const r = run([...cli, 'run', '--rm', '-it', 'box', 'sh', '-c', probe], { terminal: true });
    t.regex(r.out, /\/dev\/pts\/\d+/, r.out);
    t.regex(r.out, /stdin-is-a-tty/);
    t.is(r.code, 5);
    const x = run([...cli, 'exec', '-it', 'box', 'sh', '-c', probe], { terminal: true });
    t.regex(x.out, /\/dev\/pts\/\d+/, x.out);
    t.regex(x.out, /stdin-is-a-tty/);
    t.is(x.code, 5);
    const p = run([...cli, 'run', '--rm', '-i', '-T', 'box', 'sh', '-c', 'cat; exit 4'], { input: 'through stdin\n' });
    t.is(p.out, 'through stdin\n');
    t.is(p.code, 4);
    // as Compose, without -i too (`run -T db psql < dump.sql`, `exec -T db psql < dump.sql`)
    const q1 = run([...cli, 'run', '--rm', '-T', 'box', 'sh', '-c', 'cat; exit 3'], { input: 'no -i needed\n' });
    t.is(q1.out, 'no -i needed\n');
    t.is(q1.code, 3);
    t.is(run([...cli, 'exec', '-T', 'box', 'sh', '-c', 'cat > /tmp/in'], { input: 'dump\n' }).code, 0);
    t.is(run([...cli, 'exec', '-T', 'box', 'cat', '/tmp/in'], {}).out, 'dump\n');
    const kept = run([...cli, 'run', '--rm', '--no-interactive', '-T', 'box', 'sh', '-c', 'cat; echo end'], { input: 'kept away\n' });
    t.is(kept.out, 'end\n', '--no-interactive: the container reads /dev/null');
    t.is(run([...cli, 'exec', '--no-interactive', '-T', 'box', 'cat'], { input: 'kept away\n' }).out, '');
    const ps = JSON.parse((await w.T('ps', '-a', '--format', 'json')).out) as { Name: string }[];
    t.deepEqual(ps.map((c) => c.Name), ['gaps-box-1'], 'the one-off containers were removed (--rm)');
    t.is((await w.T('down', '-t', '1')).code, 0);
    t.deepEqual(leftovers(w.root), []);
  } finally {
    await w.T('down', '-v', '-t', '1').catch(() => {});
    w.dispose();
  }
});

// The kernel takes a hostname of at most 64 bytes; a container is named host after itself unless the
// stack says otherwise (model/uts.ts). A long service name or container_name used to fail every start
// with sethostname's EINVAL; its host name is now its name cut to 64 bytes.
needs(...E2E).serial('a service or container_name longer than a hostname may be: run --rm and up start it, named host after the first 64 bytes', async (t) => {
  const w = world();
  const long = `s${'x'.repeat(99)}`;
  try {
    await w.busybox('busybox:latest');
    w.stack(`services:\n  ${long}:\n    image: busybox:latest\n    command: ["hostname"]\n  named:\n    image: busybox:latest\n    command: ["sh", "-c", "hostname; exec sleep 1000"]\n    container_name: n${'y'.repeat(149)}\n`);
    const r = await w.T('run', '--rm', long);
    t.is(r.code, 0, r.err);
    t.is(r.out.trim(), `gaps-${long}`.slice(0, 64));
    const up = await w.T('up', '-d', 'named');
    t.is(up.code, 0, up.err);
    let logs = '';
    for (let i = 0; i < 50 && !logs.trim(); i++) logs = (await w.T('logs', '--no-log-prefix', 'named')).out, await new Promise((r) => setTimeout(r, 100));
    t.is(logs.trim(), `n${'y'.repeat(63)}`);
    t.is((await w.T('down', '-t', '0')).code, 0);
    t.deepEqual(leftovers(w.root), []);
  } finally {
    await w.T('down', '-v', '-t', '0').catch(() => {});
    w.dispose();
  }
});

// What `run` shows is the container's output byte for byte (through its log: runtime/logs.ts
// readOutput), each stream to its own, as `docker run` and `docker compose run` give it. It used to
// come line by line through `logs`: invalid UTF-8 replaced, CRs and a last line's missing newline
// changed, stderr on stdout, nothing under `logging: none`, and a large output cut where the log
// rotated before it was read.
needs(...E2E).serial('run shows the output byte for byte, each stream to its own, whole however large, also under logging: none', async (t) => {
  const w = world();
  const { createHash } = await import('node:crypto');
  const cli = (argv: string[]) => new Promise<{ code: number | null; out: Buffer; err: Buffer }>((resolve) => {
    const p = w.bin(argv, ['ignore', 'pipe', 'pipe']);
    const out: Buffer[] = [], err: Buffer[] = [];
    p.stdout!.on('data', (d: Buffer) => out.push(d));
    p.stderr!.on('data', (d: Buffer) => err.push(d));
    p.on('close', (code) => resolve({ code, out: Buffer.concat(out), err: Buffer.concat(err) }));
  });
  try {
    await w.busybox('busybox:latest');
    w.stack([
      'services:',
      '  bin:', '    image: busybox:latest', '    command: ["cat", "/bin/busybox"]',
      '  mixed:', '    image: busybox:latest', '    command: ["sh", "-c", "printf \'a\\\\r\\\\nb\'; printf \'to err\' >&2; exit 3"]',
      // 40 MB: four times what the default log keeps before it rotates (10 MB), NULs escaped 6-fold in it
      '  big:', '    image: busybox:latest', '    command: ["sh", "-c", "head -c 40000000 /dev/zero; echo END"]',
      '  quiet:', '    image: busybox:latest', '    command: ["echo", "shown"]', '    logging: {driver: none}', '',
    ].join('\n'));
    const { readFileSync: read } = await import('node:fs');
    const bin = await cli(['run', '--rm', 'bin']);
    t.is(bin.code, 0, bin.err.toString());
    const want = read(BUSYBOX); // what the image's /bin/busybox was copied from
    t.is(bin.out.length, want.length);
    t.is(createHash('sha256').update(bin.out).digest('hex'), createHash('sha256').update(want).digest('hex'), 'the binary, byte for byte');
    const mixed = await cli(['run', '--rm', 'mixed']);
    t.is(mixed.code, 3);
    t.is(mixed.out.toString('latin1'), 'a\r\nb', 'CR kept, no newline added');
    t.is(mixed.err.toString(), 'to err', 'stderr on stderr');
    const big = await cli(['run', '--rm', 'big']);
    t.is(big.code, 0, big.err.toString());
    t.is(big.out.length, 40_000_004);
    t.is(big.out.subarray(-4).toString(), 'END\n');
    t.true(big.out.subarray(0, 40_000_000).every((b) => b === 0));
    const quiet = await cli(['run', '--rm', 'quiet']);
    t.is(quiet.code, 0, quiet.err.toString());
    t.is(quiet.out.toString(), 'shown\n');
    t.is((await w.T('down', '-t', '0')).code, 0);
    t.deepEqual(leftovers(w.root), []);
  } finally {
    await w.T('down', '-v', '-t', '0').catch(() => {});
    w.dispose();
  }
});

// Ctrl-C (and SIGTERM) on a `run` in the foreground go to the container, as `docker run` and Compose's
// `run` pass them on; a second one kills it. Before, the command ended at once and left the container
// running, unseen (`ps` lists no one-off) and not removed despite --rm.
needs(...E2E).serial('Ctrl-C on run --rm reaches the container, which ends as it would and is removed; a second one kills a container that ignores it', async (t) => {
  const w = world();
  const runCli = (service: string, signals: NodeJS.Signals[]) => new Promise<{ code: number | null; out: string }>((resolve) => {
    const p = w.bin(['run', '--rm', service], ['ignore', 'pipe', 'inherit']);
    let out = '';
    p.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      // the container says it is ready: then the signals, 300 ms apart
      if (out.includes('ready\n') && signals.length) {
        const send = () => { const s = signals.shift(); if (s) { p.kill(s); setTimeout(send, 300); } };
        send();
      }
    });
    p.on('close', (code) => resolve({ code, out }));
  });
  try {
    await w.busybox('busybox:latest');
    w.stack([
      'services:',
      '  trapping:', '    image: busybox:latest', '    command: ["sh", "-c", "trap \'echo got INT; exit 3\' INT; echo ready; while :; do sleep 0.1; done"]',
      '  deaf:', '    image: busybox:latest', '    command: ["sh", "-c", "echo ready; exec sleep 1000"]', '',
    ].join('\n'));
    const trapped = await runCli('trapping', ['SIGINT']);
    t.is(trapped.code, 3, 'the container\'s own exit code');
    t.is(trapped.out, 'ready\ngot INT\n');
    const killed = await runCli('deaf', ['SIGINT', 'SIGINT']);
    t.is(killed.code, 137, 'sleep as pid 1 ignores SIGINT: the second one kills it');
    const termed = await runCli('deaf', ['SIGTERM', 'SIGTERM']);
    t.is(termed.code, 137);
    const { readdirSync } = await import('node:fs');
    t.deepEqual(readdirSync(join(w.root, 'containers')), [], 'each run removed its container itself (ps lists no one-off: the engine\'s own records)');
    t.is((await w.T('down', '-t', '0')).code, 0);
    t.deepEqual(leftovers(w.root), []);
  } finally {
    await w.T('down', '-v', '-t', '0').catch(() => {});
    w.dispose();
  }
});

// A reader that goes away (`tsstack run --rm x yes | head -1`): the container goes as a program in a
// pipe would (SIGPIPE, then SIGKILL for a pid 1 that ignores it) and --rm removes it. The command used to
// end at EPIPE and leave it running, unseen and kept.
needs(...E2E).serial('run --rm whose reader goes away: the container ends and is removed', async (t) => {
  const w = world();
  const { readdirSync } = await import('node:fs');
  try {
    await w.busybox('busybox:latest');
    w.stack(['services:', '  endless:', '    image: busybox:latest', '    command: ["yes"]', ''].join('\n'));
    const code = await new Promise<number | null>((resolve) => {
      const p = w.bin(['run', '--rm', 'endless'], ['ignore', 'pipe', 'inherit']);
      p.stdout!.once('data', () => p.stdout!.destroy()); // the reader's end closed after its first piece, as `head` does
      p.on('close', (c) => resolve(c));
    });
    t.true(code === 137 || code === 141, `ended by SIGKILL (yes as pid 1 ignores SIGPIPE) or SIGPIPE: ${code}`);
    t.deepEqual(readdirSync(join(w.root, 'containers')), [], 'removed by the run itself');
    t.is((await w.T('down', '-t', '0')).code, 0);
    t.deepEqual(leftovers(w.root), []);
  } finally {
    await w.T('down', '-v', '-t', '0').catch(() => {});
    w.dispose();
  }
});
