// The content digest of a seccomp profile named by `security_opt`, part of the
// container's config hash: editing the profile recreates the container (the
// path alone would not). Read at each plan, not at load, so a cached model
// never vouches for a profile that changed since.

import { sha256Hex } from '../util/digest.js';
import { readSmallFile } from '../util/read-small-file.js';

/**
 * sha256 of a seccomp profile's content; undefined for the default profile, `unconfined` and a file that
 * cannot be read (creating the container then says why). The default profile is not hashed: as in Docker,
 * a new default applies to containers created after it.
 */
export function seccompProfileDigest(seccomp: string | undefined): string | undefined {
  if (!seccomp || seccomp === 'unconfined') return undefined;
  try {
    return sha256Hex(readSmallFile(seccomp));
  } catch {
    return undefined;
  }
}
