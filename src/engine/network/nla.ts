// Netlink attribute (TLV) encoding, for the requests rtnl.ts sends over raw-rtnl.ts
// (IFLA_LINKINFO and the veth peer among them). Pure.

/** `struct nlattr`: u16 length (header + payload), u16 type, payload padded to 4 bytes. */
export function nla(type: number, payload: Uint8Array): Buffer {
  const len = 4 + payload.length;
  const out = Buffer.alloc((len + 3) & ~3);
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  out.set(payload, 4);
  return out;
}

export function nlaString(type: number, s: string): Buffer {
  return nla(type, Buffer.from(s + '\0'));
}

export function nlaU32(type: number, v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return nla(type, b);
}

const NLA_F_NESTED = 0x8000;
export function nlaNested(type: number, ...children: Buffer[]): Buffer {
  return nla(type | NLA_F_NESTED, Buffer.concat(children));
}

// linux/if_link.h
export const IFLA_ADDRESS = 1;
export const IFLA_IFNAME = 3;
export const IFLA_NET_NS_FD = 28;
export const IFLA_INFO_KIND = 1;
export const IFLA_INFO_DATA = 2;
export const VETH_INFO_PEER = 1;

/** IFLA_LINKINFO payload (the attribute's inside) for a link of `kind` with no data. */
export function linkInfo(kind: string): Buffer {
  return nlaString(IFLA_INFO_KIND, kind);
}

/**
 * IFLA_LINKINFO payload for a veth whose peer is named `peerName`, gets `peerMac`,
 * and is created directly inside the network namespace open as `peerNsFd`
 * (so the sandbox end never appears on the host).
 */
export function vethLinkInfo(peerName: string, peerMac: Buffer | undefined, peerNsFd: number): Buffer {
  const ifinfomsg = Buffer.alloc(16); // family, pad, type, index, flags, change: all zero
  const peerAttrs = [nlaString(IFLA_IFNAME, peerName), nlaU32(IFLA_NET_NS_FD, peerNsFd)];
  if (peerMac) peerAttrs.push(nla(IFLA_ADDRESS, peerMac));
  const peer = nla(VETH_INFO_PEER, Buffer.concat([ifinfomsg, ...peerAttrs]));
  return Buffer.concat([nlaString(IFLA_INFO_KIND, 'veth'), nla(IFLA_INFO_DATA, peer)]);
}

export function macToBuffer(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
}

export const IFLA_INFO_SLAVE_KIND = 4;
export const IFLA_INFO_SLAVE_DATA = 5;
export const IFLA_BRPORT_MODE = 4;

/**
 * IFLA_LINKINFO payload that turns on hairpin mode of a bridge port, so a frame
 * the host routes back to the port it came from is delivered (a container
 * reaching its own published port through the host's address).
 */
export function bridgePortHairpinInfo(): Buffer {
  return Buffer.concat([nlaString(IFLA_INFO_SLAVE_KIND, 'bridge'), nlaNested(IFLA_INFO_SLAVE_DATA, nla(IFLA_BRPORT_MODE, Buffer.from([1])))]);
}
