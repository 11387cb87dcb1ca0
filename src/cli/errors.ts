// The one place that turns errors into exit statuses and text. Exit codes are
// stable and documented (README, `tsstack help exit-codes`):
//
//   0  success            2  bad stack file or command line (SPEC, USAGE)
//   1  a container/step failed during `up`, or a command's own failure status
//   3  not found          4  conflict (port in use, name taken, lock held)
//   5  image (pull/build) 6  runtime (container create/start)
//   7  network            8  host (missing kernel feature, package, permission,
//                           missing binary, unsafe engine directory, disk full)
//   9  remote (a Swarm, Kubernetes cluster or registry unreachable or refusing)
//   70 internal error (a bug: please report it, with --debug output)
//  130 interrupted (Ctrl-C)
//
// `plan --detailed-exitcode` uses 0 = no changes, 2 = changes.

import { formatLocation, isTsstackError, type ErrorCode } from '../util/errors.js';
import { noSpace } from '../util/fs-atomic.js';

export const EXIT: Record<ErrorCode, number> = {
  SPEC: 2,
  USAGE: 2,
  NOT_FOUND: 3,
  CONFLICT: 4,
  IMAGE: 5,
  RUNTIME: 6,
  NETWORK: 7,
  HOST: 8,
  REMOTE: 9,
  INTERNAL: 70,
};

export const EXIT_FAILED = 1;
export const EXIT_INTERRUPTED = 130;

export function exitCodeFor(err: unknown): number {
  err = noSpace(err) ?? err;
  if (isTsstackError(err)) return EXIT[err.code] ?? 70;
  return 70;
}

/** `error: <location><message>`, then the details and `hint:`; a stack trace only with `debug`. */
export function renderError(err: unknown, debug = false): string {
  const out: string[] = [];
  err = noSpace(err) ?? err; // a full disk met by any write is the host's, not a bug
  if (isTsstackError(err)) {
    for (const w of err.warnings) out.push(`warning: ${w}`);
    // The builder's messages start with their place, as BuildKit prints them (`Dockerfile:2: …`): not twice.
    const at = formatLocation(err.location);
    out.push(`error: ${at && err.message.startsWith(at) ? '' : at}${err.message}`);
    for (const d of err.details) out.push(`  - ${d}`);
    if (err.hint) out.push(`hint: ${err.hint}`);
    if (debug) {
      if (err.stack) out.push(err.stack);
      let c: unknown = err.cause;
      while (c) {
        out.push(`caused by: ${c instanceof Error ? c.stack ?? c.message : String(c)}`);
        c = c instanceof Error ? c.cause : undefined;
      }
    }
  } else {
    const e = err instanceof Error ? err : new Error(String(err));
    out.push(`error: internal error: ${e.message}`);
    out.push(debug ? (e.stack ?? '') : 'hint: this is a bug in tsstack; run again with --debug and report the output');
  }
  return out.filter((l) => l !== '').join('\n');
}

/** The exit status table, as printed at the end of `tsstack --help`. */
export const EXIT_HELP = `Exit status:
  0   success (plan --detailed-exitcode: nothing to do)
  1   a step failed during up/down, or a container's own failure (run, wait)
  2   bad stack file or command line (plan --detailed-exitcode: changes to make)
  3   not found (service, container, image, network)
  4   conflict (host port in use, name taken, subnet overlap, lock held)
  5   image pull/build failed
  6   container could not be created or started
  7   network setup failed
  8   host problem (kernel feature, package, permission, missing binary)
  9   remote: a Swarm, Kubernetes cluster or registry unreachable or refusing
  70  internal error (a bug)
  130 interrupted`;
