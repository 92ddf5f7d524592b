import { describe, expect, it } from 'vitest';
import { checkUrl, isBlockedAddress, UnsafeUrlError } from '../../src/backup/restore/url-fetcher.js';
import { describeUrl } from '../../src/backup/restore/restore-job.js';

describe('restore URL safety', () => {
  it('blocks loopback, private, link-local, metadata, CGNAT, multicast and reserved addresses', () => {
    for (const address of [
      '127.0.0.1', '127.8.9.10', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.0.1', '169.254.169.254', '100.64.0.1',
      '0.0.0.0', '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fc00::1', 'fd12:3456::1', 'ff02::1',
      '::ffff:127.0.0.1', '::ffff:10.0.0.1', '::7f00:1', '64:ff9b:1::a00:1', '2002:7f00:1::1', 'not-an-ip',
    ]) {
      expect(isBlockedAddress(address), address).toBe(true);
    }
  });

  it('lets public addresses through', () => {
    for (const address of ['93.184.216.34', '8.8.8.8', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
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
