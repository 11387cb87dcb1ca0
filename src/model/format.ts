// The model's parsed values written back in Compose's short forms: what
// `tsstack config` prints, what messages quote and what the hashed container
// config keeps (so a container made before the model was parsed keeps its hash).

import type { PortRange } from './types.js';

/** `8080` or `9000-9005`. */
export function formatPortRange(r: PortRange): string {
  return r.start === r.end ? String(r.start) : `${r.start}-${r.end}`;
}
