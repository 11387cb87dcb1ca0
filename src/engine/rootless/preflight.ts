// What rootless mode needs from the host, checked before anything is made, each
// missing piece named with what to install or configure. Pure: the facts come in
// (rootless/host-facts.ts gathers them), errors and warnings go out.

import type { IdRange } from './ids.js';

export interface HostFacts {
  user: string;
  uid: number;
  newuidmap: boolean;
  newgidmap: boolean;
  subuid: IdRange[];
  subgid: IdRange[];
  /** /proc/sys/user/max_user_namespaces */
  maxUserNamespaces: number;
  /** /proc/sys/kernel/unprivileged_userns_clone (Debian's knob), undefined when the kernel has none */
  unprivilegedClone?: number;
  /** /proc/sys/kernel/apparmor_restrict_unprivileged_userns (Ubuntu), undefined when absent */
  apparmorRestrict?: number;
  /** The kernel's release (uname -r), for overlayfs in a user namespace (5.11) */
  kernel?: string;
  /** What can link the namespace to the host (network choice); undefined when not gathered */
  net?: NetFacts;
}

export type NetDriver = 'pasta' | 'slirp4netns';

export interface NetFacts {
  pasta: boolean;
  slirp4netns: boolean;
  /** TSSTACK_ROOTLESS_NETWORK: `pasta` or `slirp4netns` forces one (tests hide pasta with it) */
  forced?: string;
}

/** pasta when installed, else slirp4netns; an error naming both packages when neither is. Pure. */
export function chooseNetwork(n: NetFacts): { driver: NetDriver } | { error: string } {
  const pkg: Record<NetDriver, string> = { pasta: 'passt', slirp4netns: 'slirp4netns' };
  if (n.forced) {
    if (n.forced !== 'pasta' && n.forced !== 'slirp4netns') return { error: `TSSTACK_ROOTLESS_NETWORK=${n.forced} is neither \`pasta\` nor \`slirp4netns\`: set one of them, or unset it to let tsstack choose` };
    return n[n.forced] ? { driver: n.forced } : { error: `TSSTACK_ROOTLESS_NETWORK asks for ${n.forced}, which is not installed: as root, \`apt-get install ${pkg[n.forced]}\`` };
  }
  if (n.pasta) return { driver: 'pasta' };
  if (n.slirp4netns) return { driver: 'slirp4netns' };
  return { error: 'neither pasta nor slirp4netns is installed (one links the rootless network namespace to the host: outbound traffic, published ports): as root, `apt-get install passt` (or `apt-get install slirp4netns`)' };
}

/** True when release `r` (e.g. 6.1.0-18-amd64) is at least major.minor. */
export function kernelAtLeast(r: string, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(r);
  return !!m && (Number(m[1]) > major || (Number(m[1]) === major && Number(m[2]) >= minor));
}

export interface Preflight {
  errors: string[];
  warnings: string[];
  /** The network driver chosen (when the facts say what is installed) */
  network?: NetDriver;
}

export function preflight(f: HostFacts): Preflight {
  const errors: string[] = [];
  const warnings: string[] = [];
  if (f.maxUserNamespaces === 0) errors.push('user namespaces are disabled (user.max_user_namespaces = 0): as root, `sysctl -w user.max_user_namespaces=15000` (and in /etc/sysctl.d/ to keep it)');
  if (f.unprivilegedClone === 0) errors.push('unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0): as root, `sysctl -w kernel.unprivileged_userns_clone=1`');
  if (f.apparmorRestrict === 1) errors.push('AppArmor forbids unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1): as root, set it to 0 or give node an AppArmor profile that allows `userns`');
  if (f.kernel && !kernelAtLeast(f.kernel, 5, 11)) errors.push(`Linux ${f.kernel} cannot mount overlayfs inside a user namespace (5.11 or later can): upgrade the kernel, or run tsstack as root`);
  const hasSub = f.subuid.length > 0 || f.subgid.length > 0;
  if (hasSub && (!f.newuidmap || !f.newgidmap)) errors.push('newuidmap/newgidmap are missing (they map your subordinate ids): as root, `apt-get install uidmap`');
  if (!f.subuid.length || !f.subgid.length) {
    const which = [!f.subuid.length && '/etc/subuid', !f.subgid.length && '/etc/subgid'].filter(Boolean).join(' and ');
    warnings.push(`${f.user} has no subordinate ids in ${which}: containers see one user (root) only, and images with files of other owners cannot be unpacked; as root, \`usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${f.user}\``);
  }
  const net = f.net && chooseNetwork(f.net);
  if (net && 'error' in net) errors.push(net.error);
  return net && 'driver' in net ? { errors, warnings, network: net.driver } : { errors, warnings };
}
