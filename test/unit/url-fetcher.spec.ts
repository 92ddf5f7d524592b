import { describe, expect, it } from 'vitest';
import { checkUrl, isBlockedAddress, UnsafeUrlError } from '../../src/backup/restore/url-fetcher.js';
import { describeUrl } from '../../src/backup/restore/restore-job.js';

describe('restore URL safety', () => {
  it('allows only globally routable unicast: every special-purpose block of IPv4 and IPv6 is refused', () => {
    for (const address of [
      '127.0.0.1', '127.8.9.10', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.0.1', '169.254.169.254', '100.64.0.1',
      '0.0.0.0', '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fc00::1', 'fd12:3456::1', 'ff02::1',
      '::ffff:127.0.0.1', '::ffff:10.0.0.1', '::7f00:1', '64:ff9b:1::a00:1', '2002:7f00:1::1', 'not-an-ip',
      // Every IPv4-embedding IPv6 prefix, public IPv4 inside or not: mapped, compatible, SIIT, NAT64, 6to4, Teredo.
      '::ffff:8.8.8.8', '::808:808', '::ffff:0:808:808', '64:ff9b::808:808', '2002:808:808::1', '2001:0:4136:e378:8000:63bf:3fff:fdd2', '2001::1',
      // ORCHID and ORCHIDv2, benchmarking, documentation, discard, SRv6, AS112 and AMT, 6to4 relay, broadcast.
      '2001:10::1', '2001:1f::1', '2001:20::1', '2001:2::1', '2001:db8::1', '3fff::1', '100::1', '5f00::1',
      '192.31.196.1', '192.52.193.1', '192.175.48.1', '192.88.99.1', '198.18.0.1', '203.0.113.9', '240.0.0.1', '255.255.255.255',
      // Outside global unicast altogether.
      '4000::1', 'e000::1', '::ffff:169.254.169.254',
    ]) {
      expect(isBlockedAddress(address), address).toBe(true);
    }
  });

  it('lets public addresses through', () => {
    for (const address of ['93.184.216.34', '8.8.8.8', '172.32.0.1', '1.1.1.1', '2606:4700:4700::1111', '2a00:1450:4001::200e', '2001:4860:4860::8888']) {
      expect(isBlockedAddress(address), address).toBe(false);
    }
  });

  it('accepts only http and https', () => {
    expect(checkUrl('https://example.com/b.zip').hostname).toBe('example.com');
    for (const url of ['file:///etc/passwd', 'ftp://example.com/x', 'gopher://x', 'javascript:alert(1)', 'nonsense']) {
      expect(() => checkUrl(url), url).toThrow(UnsafeUrlError);
    }
  });

  it('never shows credentials or query strings of a URL', () => {
    expect(describeUrl('https://user:pass@example.com/b.zip?sig=secret#x')).toBe('https://example.com/b.zip?…');
    expect(describeUrl('https://example.com/b.zip')).toBe('https://example.com/b.zip');
  });
});
