// Rootless mode: when tsstack runs as an ordinary user (or with --rootless), and
// where its state goes then. Pure: the caller passes the ids, the environment and
// a stat of the candidate run directory; nothing here touches the host.
//
// The state follows the XDG base directories, as Podman's does:
//  - root:    $XDG_DATA_HOME/tsstack, else ~/.local/share/tsstack (survives a reboot);
//  - runRoot: $XDG_RUNTIME_DIR/tsstack (dies with the session), used only when that
//    directory is the user's own and private as the XDG spec requires; otherwise a
//    private directory of the user's under the temporary directory, with a warning.
// Never a root path: a relative XDG value is ignored (the spec says so), and an
// XDG_RUNTIME_DIR that another user owns (`sudo -E` keeps root's /run/user/0) is
// not used. host-dirs.ts then makes both 0700 and checks every directory on the way.

import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

/** Set by the CLI for the copy of itself it runs inside the user namespace (its value: the holder's pid). */
export const INSIDE_ENV = 'TSSTACK_ROOTLESS_NS';

/** True when this invocation must run rootless: asked for, or not root; false inside the namespace already entered. */
export function wantsRootless(argv: readonly string[], euid: number, env: NodeJS.ProcessEnv): boolean {
  if (env[INSIDE_ENV]) return false;
  return euid !== 0 || argv.includes('--rootless');
}

let inUserNs: boolean | undefined;

/** True when this process runs in a user namespace other than the initial one (read once). */
function inUserNamespace(): boolean {
  if (inUserNs === undefined) {
    try {
      inUserNs = readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/).join(' ') !== '0 0 4294967295';
    } catch {
      inUserNs = false;
    }
  }
  return inUserNs;
}

/**
 * True in the copy of the CLI that runs inside the rootless user namespace: the variable alone is not
 * enough (root with it set stays root: nothing is trusted or dropped for it).
 */
export function insideRootless(env: NodeJS.ProcessEnv = process.env): boolean {
  return !!env[INSIDE_ENV] && inUserNamespace();
}

export interface RootlessPaths {
  root: string;
  runRoot: string;
  /** What the user should know (a fallback taken), one line each. */
  warnings: string[];
}

/** Owner and mode of a directory, or undefined when it does not exist (a link is not a directory). */
export type DirStat = (path: string) => { uid: number; mode: number; isDirectory: boolean } | undefined;

function absolute(v: string | undefined): string | undefined {
  return v && isAbsolute(v) ? v : undefined;
}

/**
 * The root and run root of rootless mode for user `uid` with home `home`.
 * TSSTACK_ROOT / TSSTACK_RUN_ROOT still win (tests and people who want them elsewhere).
 */
export function rootlessPaths(env: NodeJS.ProcessEnv, user: { uid: number; home: string }, stat: DirStat, tmp = '/tmp'): RootlessPaths {
  const warnings: string[] = [];
  const data = absolute(env.XDG_DATA_HOME) ?? join(user.home, '.local', 'share');
  const root = env.TSSTACK_ROOT || join(data, 'tsstack');
  if (env.TSSTACK_RUN_ROOT) return { root, runRoot: env.TSSTACK_RUN_ROOT, warnings };
  const xdg = absolute(env.XDG_RUNTIME_DIR);
  const st = xdg ? stat(xdg) : undefined;
  if (xdg && st && st.isDirectory && st.uid === user.uid && (st.mode & 0o077) === 0) return { root, runRoot: join(xdg, 'tsstack'), warnings };
  const fallback = join(absolute(env.TMPDIR) ?? tmp, `tsstack-run-${user.uid}`);
  const why = !xdg
    ? 'XDG_RUNTIME_DIR is not set'
    : !st || !st.isDirectory
      ? `XDG_RUNTIME_DIR (${xdg}) is not a directory`
      : st.uid !== user.uid
        ? `XDG_RUNTIME_DIR (${xdg}) belongs to uid ${st.uid}, not to you`
        : `XDG_RUNTIME_DIR (${xdg}) is open to other users (mode ${(st.mode & 0o777).toString(8)})`;
  warnings.push(`${why}: rootless state that dies with the session goes to ${fallback} (log in through a session that sets it, e.g. systemd-logind, or set TSSTACK_RUN_ROOT)`);
  return { root, runRoot: fallback, warnings };
}

let overflow: number | undefined;

/**
 * Inside the rootless namespace, owners that are not mapped (root among them) show as the
 * overflow uid (65534), so root's /home cannot be told from another user's directory there. The
 * CLI checked the engine's paths with the real ids just before entering (enter.ts) and only
 * their owners can change them: that owner is accepted on the way to them, inside only.
 */
export function vettedOwner(uid: number, env: NodeJS.ProcessEnv = process.env): boolean {
  if (!insideRootless(env)) return false;
  if (overflow === undefined) {
    try {
      overflow = Number(readFileSync('/proc/sys/kernel/overflowuid', 'utf8').trim());
    } catch {
      overflow = 65534;
    }
  }
  return uid === overflow;
}
