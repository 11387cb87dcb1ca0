// A test that cannot run on this machine is reported by ava as skipped, with the
// reason in its title, never as passed. The reason must be known when the test is
// declared (module level, top-level await included): ava cannot skip a test once
// it has started. So a test says what it needs where it is declared:
//
//   needs('root', 'busybox', 'tsstack-runtime').serial('up -d …', async (t) => { … });
//   needs('conformance')('every conformance stack file loads', (t) => { … });
//
// and is registered as `[skip] up -d … [skipped: needs root]` when something is
// missing; scripts/test.sh counts those lines in its summary. Each requirement's
// check and reason are in the one table below.
import test from 'ava';
import { existsSync, statSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

function onPath(bin: string): boolean {
  return (process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter).some((d) => d && existsSync(join(d, bin)));
}

const nativeBin = (part: string): string => join(process.env.TSSTACK_NATIVE_DIR ?? new URL('../../../native/bin', import.meta.url).pathname, `tsstack-${part}`);

/** Requirement → [is it there?, why the test is skipped when not]. Checked once, when first asked. */
const TABLE = {
  root: [() => process.getuid?.() === 0, 'needs root'],
  /** Other projects' test data (read-only), beside the repository. */
  conformance: [() => existsSync(resolve(process.cwd(), '../shared/conformance')), '../shared/conformance absent'],
  /** The static busybox the test root filesystems are made from. */
  busybox: [() => existsSync('/bin/busybox'), 'needs busybox-static (/bin/busybox)'],
  'tsstack-runtime': [() => existsSync(nativeBin('runtime')), 'native/bin/tsstack-runtime is not built (npm run build:native)'],
  /** Any runtime the engine tests run containers under (test/engine-runtime/helpers.ts runtimes()). */
  runtime: [() => process.env.TSSTACK_TEST_RUNTIMES ? process.env.TSSTACK_TEST_RUNTIMES.split(',').some(Boolean) : existsSync(nativeBin('runtime')) || existsSync('/usr/sbin/runc') || existsSync('/usr/bin/runc'), 'no OCI runtime to run containers under (build tsstack-runtime or install runc)'],
  'runtime:runc': [() => onPath('runc'), 'runc is not installed'],
  'runtime:crun': [() => onPath('crun'), 'crun is not installed'],
  /** A cgroup2 hierarchy, pure (/sys/fs/cgroup) or hybrid (/sys/fs/cgroup/unified). */
  cgroup2: [() => existsSync('/sys/fs/cgroup/cgroup.controllers') || existsSync('/sys/fs/cgroup/unified/cgroup.procs'), 'no cgroup2 hierarchy on this host'],
  /** The tests copy the host's Redis binaries into a container root. */
  redis: [() => existsSync('/usr/bin/redis-server') && existsSync('/usr/bin/redis-cli'), 'needs redis-server and redis-cli in /usr/bin'],
  /** Debian's docker-registry (a local registry on loopback) and skopeo to push to it. */
  registry: [() => existsSync('/usr/bin/docker-registry') && existsSync('/usr/bin/skopeo'), 'docker-registry or skopeo missing'],
  skopeo: [() => existsSync('/usr/bin/skopeo'), 'skopeo is not installed'],
  python3: [() => onPath('python3'), 'python3 is not installed'],
  strace: [() => onPath('strace'), 'strace is not installed'],
  'dev:fuse': [() => existsSync('/dev/fuse') && statSync('/dev/fuse').isCharacterDevice(), 'no /dev/fuse on this host'],
  x64: [() => process.arch === 'x64', 'x86-64 only'],
  /** Debian's chromium, which the dashboard's browser tests drive with playwright-core (nothing downloaded). */
  chromium: [() => existsSync('/usr/bin/chromium'), 'needs Debian\'s chromium (scripts/setup.sh --test installs it)'],
} satisfies Record<string, [() => boolean, string]>;

export type Need = keyof typeof TABLE;

const seen = new Map<Need, boolean>();
function have(n: Need): boolean {
  if (!seen.has(n)) seen.set(n, TABLE[n][0]());
  return seen.get(n)!;
}

/** Why a test with these needs cannot run here ('; '-joined reasons), or undefined when it can. */
export function missing(...needs: Need[]): string | undefined {
  const why = needs.filter((n) => !have(n)).map((n) => TABLE[n][1]);
  return why.length ? why.join('; ') : undefined;
}

/** `test` when everything in `needs` is here; otherwise a registrar of skipped tests titled with what is missing. */
export function needs(...needs: Need[]): typeof test {
  const why = missing(...needs);
  return skipWhen(why, why);
}

/** For tests declared once per item of a list that is empty on this machine (the runtimes, say): one skipped test, titled with why, stands for them. */
export function noneHere(list: readonly unknown[], title: string, need: Need): void {
  if (!list.length) test.skip(`${title} [skipped: ${missing(need) ?? TABLE[need][1]}]`, () => {});
}

/** `test` as it is when `cond` is falsy; otherwise one whose `test(...)` and `test.serial(...)` register skipped tests titled with `why`. */
export function skipWhen(cond: unknown, why: string | undefined): typeof test {
  if (!cond) return test;
  const reason = why || String(cond);
  const skipped = ((title: string, impl: any) => test.skip(`${title} [skipped: ${reason}]`, impl)) as any;
  skipped.serial = (title: string, impl: any) => test.serial.skip(`${title} [skipped: ${reason}]`, impl);
  return skipped as typeof test;
}
