import { BlockList, isIP } from 'node:net';

/**
 * Which addresses a restore may fetch from: globally routable unicast only, an allow list rather
 * than a list of what to avoid. The tables follow the IANA IPv4 and IPv6 Special-Purpose Address
 * Registries (RFC 6890 and its updates); an address in any of their blocks is refused, whatever
 * the registry says of its reach, as is multicast. IPv6 must lie in 2000::/3, the global unicast
 * space, so every prefix outside it is refused too (IPv4-mapped ::ffff:0:0/96, IPv4-compatible
 * ::/96, SIIT ::ffff:0:0:0/96, NAT64 64:ff9b::/96 and 64:ff9b:1::/48, discard 100::/64, unique and
 * link local, multicast); inside it the special-purpose blocks are refused (Teredo 2001::/32, which
 * embeds an IPv4 address, ORCHID 2001:10::/28 and ORCHIDv2 2001:20::/28, benchmarking,
 * documentation, 6to4 2002::/16, which embeds one too).
 */
const IPV4_SPECIAL: readonly [string, number][] = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // shared address space (carrier-grade NAT)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link local (cloud metadata services live here)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation (TEST-NET-1)
  ['192.31.196.0', 24], // AS112-v4
  ['192.52.193.0', 24], // AMT
  ['192.88.99.0', 24], // deprecated 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['192.175.48.0', 24], // direct delegation AS112
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation (TEST-NET-2)
  ['203.0.113.0', 24], // documentation (TEST-NET-3)
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and 255.255.255.255 (limited broadcast)
];

const IPV6_SPECIAL: readonly [string, number][] = [
  ['2001::', 23], // IETF protocol assignments: Teredo 2001::/32, benchmarking, ORCHID 2001:10::/28, ORCHIDv2 2001:20::/28, …
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4
  ['3fff::', 20], // documentation
  ['5f00::', 16], // segment routing (SRv6) SIDs
];

const special = (() => {
  const list = new BlockList();
  for (const [net, prefix] of IPV4_SPECIAL) list.addSubnet(net, prefix, 'ipv4');
  for (const [net, prefix] of IPV6_SPECIAL) list.addSubnet(net, prefix, 'ipv6');
  return list;
})();

const globalUnicastV6 = (() => {
  const list = new BlockList();
  list.addSubnet('2000::', 3, 'ipv6');
  return list;
})();

/** True only for a globally routable unicast address; anything else (a host name included) is false. */
export function isGloballyRoutable(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return !special.check(address, 'ipv4');
  if (family === 6) return globalUnicastV6.check(address, 'ipv6') && !special.check(address, 'ipv6');
  return false;
}
