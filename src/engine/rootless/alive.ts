// Whether a pid recorded in the run root is still the helper process tsstack started (pasta,
// slirp4netns, tsstack-portd): running (not a zombie) and with the expected command name, so
// that a reused pid is never signalled.
import { readFileSync } from 'node:fs';

export function aliveAs(pid: number, comm: RegExp): boolean {
  try {
    if (pid <= 0) return false;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2))) return false; // exited, not yet reaped
    return comm.test(readFileSync(`/proc/${pid}/comm`, 'utf8').trim());
  } catch {
    return false;
  }
}
