// `platform:` of a service against this host. tsstack runs images natively
// (no emulation), so a service for another platform is refused before
// anything is pulled; a matching one is what the registry client selects from
// a multi-platform index anyway (the host's platform).

/** Node's `process.arch` → OCI/Go architecture (and its default variant). */
const ARCH: Record<string, { arch: string; variant?: string }> = {
  x64: { arch: 'amd64' }, arm64: { arch: 'arm64', variant: 'v8' }, arm: { arch: 'arm', variant: 'v7' }, ia32: { arch: '386' },
  ppc64: { arch: 'ppc64le' }, s390x: { arch: 's390x' }, riscv64: { arch: 'riscv64' },
};

export function hostPlatform(nodeArch: string = process.arch): string {
  const a = ARCH[nodeArch] ?? { arch: nodeArch };
  return `linux/${a.arch}`;
}

/** Whether `platform` (`os/arch[/variant]`) runs natively on a host of `nodeArch`. */
export function platformMatches(platform: string, nodeArch: string = process.arch): boolean {
  const [os, arch, variant] = platform.toLowerCase().split('/');
  const host = ARCH[nodeArch] ?? { arch: nodeArch };
  if (os !== 'linux' || arch !== host.arch) return false;
  return variant === undefined || variant === host.variant || (host.arch === 'arm64' && variant === 'v8');
}

/** A problem line per service whose platform this host cannot run (pure). */
export function platformProblems(services: Record<string, { platform?: string }>, names: string[], nodeArch: string = process.arch): string[] {
  const out: string[] = [];
  for (const s of names) {
    const p = services[s]?.platform;
    if (p && !platformMatches(p, nodeArch)) {
      out.push(`service "${s}": platform ${p} is not this host's (${hostPlatform(nodeArch)}); tsstack runs images natively, without emulation — remove platform: or use an image for ${hostPlatform(nodeArch)}`);
    }
  }
  return out;
}
