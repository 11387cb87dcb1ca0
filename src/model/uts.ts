// A container's hostname and domain name. The kernel takes at most 64 bytes for each (sethostname and
// setdomainname refuse more with EINVAL), so a longer one must be caught before a start fails on it.

/** The longest hostname or domain name the kernel takes, in bytes. */
export const UTS_NAME_MAX = 64;

/**
 * The hostname of a container without `hostname:`: its name, cut to what the kernel takes (and without
 * the separators the cut may leave at its end). Docker and Podman name the host after the short
 * container id instead; tsstack keeps the readable name, which a long service name or container_name
 * (or a `run` of one: `<project>-<service>-run-<hex>`) would otherwise make fail every start.
 */
export function defaultHostname(containerName: string): string {
  if (Buffer.byteLength(containerName) <= UTS_NAME_MAX) return containerName;
  return containerName.slice(0, UTS_NAME_MAX).replace(/[-_.]+$/, '');
}
