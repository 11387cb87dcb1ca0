// The CLI as an ordinary user whose home cannot hold state (HOME=/nonexistent, as for
// `nobody`): commands that need no state (help, version, completion, config, render,
// usage errors) work and make nothing; a command that needs the engine says what to set
// (exit 8), never an internal error (70). As root the test runs the CLI as uid 65534;
// as an ordinary user (`npm run test:unit`), as that user.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';

const CLI = fileURLToPath(new URL('../../../bin/tsstack.js', import.meta.url));
const root = process.getuid?.() === 0;

function cli(dir: string, tmp: string, ...args: string[]) {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', TMPDIR: tmp, NO_COLOR: '1' };
  const argv = [process.execPath, CLI, ...args];
  const [cmd, ...rest] = root ? ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups', '--', ...argv] : argv;
  return spawnSync(cmd, rest, { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
}

test('an ordinary user with no usable home: stateless commands work and make nothing; ps says what to set (exit 8)', (t) => {
  if (existsSync('/nonexistent')) return t.fail('/nonexistent exists on this host');
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-stateless-'));
  const tmp = mkdtempSync(join(tmpdir(), 'tsstack-stateless-tmp-'));
  try {
    chmodSync(dir, 0o755);
    chmodSync(tmp, 0o1777); // where the run root would go (XDG_RUNTIME_DIR unset): writable, so a stray one would show
    writeFileSync(join(dir, 'compose.yaml'), 'services:\n  web:\n    image: busybox\n    ports: ["8080:80"]\n', { mode: 0o644 });
    const ok: string[][] = [['--help'], ['version'], ['completion', 'bash'], ['config'], ['config', '--services'], ['render', 'kubernetes'], ['help', 'up'], ['ps', '--help']];
    for (const args of ok) {
      const r = cli(dir, tmp, ...args);
      t.is(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    }
    for (const args of [['frobnicate'], ['up', '--scale', 'web']]) t.is(cli(dir, tmp, ...args).status, 2, args.join(' '));
    t.deepEqual(readdirSync(tmp), [], 'no run root made');
    t.deepEqual(readdirSync(dir), ['compose.yaml'], 'nothing made in the project directory');

    const ps = cli(dir, tmp, 'ps');
    t.is(ps.status, 8, ps.stderr);
    t.regex(ps.stderr, /cannot make the root \/nonexistent\/\.local\/share\/tsstack/);
    t.regex(ps.stderr, /hint: .*XDG_DATA_HOME or TSSTACK_ROOT/);
    t.notRegex(ps.stderr, /internal error/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  }
});
