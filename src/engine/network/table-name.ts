// Which nftables table an engine root owns. Apart from manager.ts so that the cheap health check
// (health.ts) names it without loading the network manager.

import { sha256Hex } from '../../util/digest.js';
import { resolve } from 'node:path';
import { TABLE } from './nft-rules.js';

export const DEFAULT_ROOT = '/var/lib/tsstack';

/**
 * The default root owns `inet tsstack`; any other root (tests, `--root` experiments)
 * gets `inet tsstack_<hash of root>`, so two roots on one host never overwrite
 * each other's rules (each table is rendered whole from its root's state).
 */
export function tableFor(root: string): string {
  const abs = resolve(root);
  return abs === DEFAULT_ROOT ? TABLE : `${TABLE}_${rootTag(abs)}`;
}

export function rootTag(root: string): string {
  return sha256Hex(resolve(root)).slice(0, 8);
}
