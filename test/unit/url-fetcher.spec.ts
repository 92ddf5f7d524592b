import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkUrl, downloadToFile, isBlockedAddress, UnsafeUrlError } from '../../src/backup/restore/url-fetcher.js';
import { ResumeRefusedError } from '../../src/backup/restore/restore-resumption.js';
import { describeUrl, type DownloadValidator } from '../../src/backup/restore/restore-job.js';

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

describe('a restore’s download that continues where it was cut off', () => {
  const body = Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => i % 251));
  const options = { allowedHosts: ['127.0.0.1'], maxBytes: 1024 * 1024, timeoutMs: 10_000 };

  /** A real HTTP server with an ETag that honours Range (with If-Range) unless told not to; it records the Range of each request. */
  async function archiveServer(state: { etag: string; ranges: boolean; asked: (string | undefined)[] }) {
    const server = createServer((req, res) => {
      state.asked.push(req.headers.range);
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      if (range && state.ranges && req.headers['if-range'] === state.etag) {
        const start = Number(range[1]);
        res.writeHead(206, { etag: state.etag, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}`, 'content-length': body.length - start });
        res.end(body.subarray(start));
        return;
      }
      res.writeHead(200, { etag: state.etag, 'content-length': body.length });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}/shop.zip`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }

  it('asks for the rest only (Range, If-Range) and appends it: the file is the whole archive', async () => {
    const state = { etag: '"v1"', ranges: true, asked: [] as (string | undefined)[] };
    const server = await archiveServer(state);
    const file = join(mkdtempSync(join(tmpdir(), 'appvault-dl-')), 'restore.zip');
    try {
      const seen: DownloadValidator[] = [];
      await downloadToFile(server.url, file, options, { onValidator: async (validator) => void seen.push(validator) });
      expect(seen).toEqual([{ etag: '"v1"', lastModified: null, size: body.length }]);
      // The first attempt was cut off after 20000 bytes.
      writeFileSync(file, body.subarray(0, 20_000));
      const resumed = await downloadToFile(server.url, file, options, { validator: seen[0]! });
      expect(resumed.resumedAt).toBe(20_000);
      expect(state.asked.at(-1)).toBe('bytes=20000-');
      expect(readFileSync(file).equals(body)).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('downloads the whole archive again when the server ignores Range, and refuses an archive whose ETag changed', async () => {
    const state = { etag: '"v1"', ranges: false, asked: [] as (string | undefined)[] };
    const server = await archiveServer(state);
    const file = join(mkdtempSync(join(tmpdir(), 'appvault-dl-')), 'restore.zip');
    const validator = { etag: '"v1"', lastModified: null, size: body.length };
    try {
      writeFileSync(file, body.subarray(0, 30_000));
      const again = await downloadToFile(server.url, file, options, { validator });
      expect(again.resumedAt).toBe(0);
      expect(readFileSync(file).equals(body)).toBe(true);

      state.etag = '"v2"';
      state.ranges = true;
      writeFileSync(file, body.subarray(0, 30_000));
      await expect(downloadToFile(server.url, file, options, { validator })).rejects.toThrow(ResumeRefusedError);
      await expect(downloadToFile(server.url, file, options, { validator })).rejects.toThrow(/changed since this restore began downloading it \(ETag "v2", was "v1"/);
    } finally {
      await server.close();
    }
  });
});
