import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Writable } from 'node:stream';

/**
 * An HTTP proxy in front of a real S3 server (radosgw in CI) that injects the faults a store shows
 * in production: 503 SlowDown on the first N requests of one kind, a shifted Date header (a store
 * whose clock differs), a rewritten ETag, a download or an upload cut off midway. Everything else
 * reaches the real server unchanged, Host header included, so signatures stay valid (the server
 * must accept path-style requests under any Host, as radosgw and MinIO do; AWS itself routes by
 * Host and cannot sit behind it).
 */
export type S3RequestKind =
  | 'PutObject'
  | 'UploadPart'
  | 'CreateMultipartUpload'
  | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload'
  | 'ListObjectsV2'
  | 'ListMultipartUploads'
  | 'GetObject'
  | 'HeadObject'
  | 'DeleteObject'
  | 'Other';

export function s3RequestKind(method: string, url: string): S3RequestKind {
  const parsed = new URL(url, 'http://proxy');
  const q = parsed.searchParams;
  // The SDK names the operation in an x-id parameter on some requests; it is not part of the S3 API.
  q.delete('x-id');
  const segments = parsed.pathname.split('/').filter(Boolean);
  const onObject = segments.length >= 2;
  if (method === 'PUT' && q.has('partNumber') && q.has('uploadId')) return 'UploadPart';
  if (method === 'PUT' && onObject && [...q.keys()].length === 0) return 'PutObject';
  if (method === 'POST' && q.has('uploads')) return 'CreateMultipartUpload';
  if (method === 'POST' && q.has('uploadId')) return 'CompleteMultipartUpload';
  if (method === 'DELETE' && q.has('uploadId')) return 'AbortMultipartUpload';
  if (method === 'DELETE' && onObject) return 'DeleteObject';
  if (method === 'GET' && !onObject && q.get('list-type') === '2') return 'ListObjectsV2';
  if (method === 'GET' && !onObject && q.has('uploads')) return 'ListMultipartUploads';
  if (method === 'GET' && onObject && [...q.keys()].every((k) => k === 'versionId')) return 'GetObject';
  if (method === 'HEAD' && onObject) return 'HeadObject';
  return 'Other';
}

interface Fault {
  kind: S3RequestKind;
  remaining: number;
  status: number;
  code: string;
}

export class S3FaultProxy {
  readonly counts = new Map<S3RequestKind, number>();
  /** Requests a fault answered, or cut off, instead of the server. */
  refused = 0;
  private faults: Fault[] = [];
  private dateShiftMs = 0;
  private etagRewrite: string | undefined;
  private cutGetsAfter: number | undefined;
  private stallGetsAfter: number | undefined;
  /** The path, Range and If-Match headers of every GetObject request, in order. */
  readonly gets: { path: string; range: string | undefined; ifMatch: string | undefined }[] = [];
  private cutUploadsAt: number | undefined;
  private holdPuts: RegExp | undefined;
  /** PutObject requests held without an answer (holdPutsMatching). */
  held = 0;

  private constructor(
    private readonly server: Server,
    private readonly upstream: URL,
    readonly url: string,
  ) {}

  static async start(upstreamUrl: string): Promise<S3FaultProxy> {
    const upstream = new URL(upstreamUrl);
    let proxy: S3FaultProxy | undefined;
    const server = createServer((req, res) => proxy!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new S3FaultProxy(server, upstream, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return proxy;
  }

  /** The next `times` requests of `kind` get `status` with S3 error `code` (503 SlowDown by default); status 0 drops the connection instead. */
  failNext(kind: S3RequestKind, times: number, status = 503, code = 'SlowDown'): void {
    this.faults.push({ kind, remaining: times, status, code });
  }

  /** Every answer's Date header moves by `ms`: the store's clock, as the client sees it. */
  shiftDate(ms: number): void {
    this.dateShiftMs = ms;
  }

  /** HeadObject answers carry this ETag instead of the server's (a store whose ETag is not an MD5). */
  rewriteHeadEtag(etag: string | undefined): void {
    this.etagRewrite = etag;
  }

  /** GetObject answers stop after `bytes` of their body, the connection dropped (a store gone mid-download). */
  cutGetObjectAfter(bytes: number | undefined): void {
    this.cutGetsAfter = bytes;
  }

  /**
   * GetObject answers send `bytes` of their body and then nothing more, the connection held open
   * (a slow store: the reading process can be killed mid-download without any timing).
   */
  stallGetObjectAfter(bytes: number | undefined): void {
    this.stallGetsAfter = bytes;
  }

  /**
   * PutObject and UploadPart requests reach the server with only their first `bytes` of body,
   * then both connections drop (a store or a network gone mid-upload). A body no longer than that
   * goes through whole.
   */
  cutUploadsAfter(bytes: number | undefined): void {
    this.cutUploadsAt = bytes;
  }

  /** PutObject requests whose path matches are read and never answered (a store that hangs, or a process killed while waiting on it). */
  holdPutsMatching(pattern: RegExp | undefined): void {
    this.holdPuts = pattern;
  }

  count(kind: S3RequestKind): number {
    return this.counts.get(kind) ?? 0;
  }

  reset(): void {
    this.counts.clear();
    this.refused = 0;
    this.faults = [];
    this.dateShiftMs = 0;
    this.etagRewrite = undefined;
    this.cutGetsAfter = undefined;
    this.stallGetsAfter = undefined;
    this.gets.length = 0;
    this.cutUploadsAt = undefined;
    this.holdPuts = undefined;
    this.held = 0;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const kind = s3RequestKind(req.method ?? 'GET', req.url ?? '/');
    this.counts.set(kind, this.count(kind) + 1);
    if (kind === 'GetObject') this.gets.push({ path: new URL(req.url ?? '/', 'http://proxy').pathname, range: req.headers.range, ifMatch: typeof req.headers['if-match'] === 'string' ? req.headers['if-match'] : undefined });
    if (kind === 'PutObject' && this.holdPuts?.test(req.url ?? '')) {
      this.held += 1;
      req.resume();
      return;
    }
    const fault = this.faults.find((f) => f.kind === kind && f.remaining > 0);
    if (fault) {
      fault.remaining -= 1;
      this.refused += 1;
      if (fault.status === 0) {
        req.socket.destroy();
        return;
      }
      // Read the request to its end first, as a server does, so the client sees the answer rather than a broken pipe.
      req.resume();
      req.on('end', () => {
        const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${fault.code}</Code><Message>Injected by the test proxy</Message></Error>`;
        res.writeHead(fault.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), date: this.date() });
        res.end(body);
      });
      return;
    }
    const send = this.upstream.protocol === 'https:' ? httpsRequest : httpRequest;
    const upstreamReq = send(
      {
        host: this.upstream.hostname,
        port: this.upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (upstreamRes) => {
        const headers = { ...upstreamRes.headers };
        if (this.dateShiftMs !== 0) headers['date'] = this.date();
        if (this.etagRewrite !== undefined && kind === 'HeadObject' && headers['etag']) headers['etag'] = `"${this.etagRewrite}"`;
        res.writeHead(upstreamRes.statusCode ?? 502, headers);
        const cut = kind === 'GetObject' ? this.cutGetsAfter : undefined;
        const stall = kind === 'GetObject' ? this.stallGetsAfter : undefined;
        if (stall !== undefined) forwardUpTo(upstreamRes, res, stall, () => undefined);
        else if (cut === undefined) upstreamRes.pipe(res);
        // A body shorter than the cut is answered whole: left open, its keep-alive connection would hold the client's next request.
        else forwardUpTo(upstreamRes, res, cut, () => res.socket?.destroy());
      },
    );
    upstreamReq.on('error', () => res.destroy());
    const cut = kind === 'PutObject' || kind === 'UploadPart' ? this.cutUploadsAt : undefined;
    if (cut === undefined) {
      req.pipe(upstreamReq);
      return;
    }
    forwardUpTo(req, upstreamReq, cut, () => {
      this.refused += 1;
      upstreamReq.destroy();
      req.socket.destroy();
    });
  }

  private date(): string {
    return new Date(Date.now() + this.dateShiftMs).toUTCString();
  }
}

/**
 * Passes `from`'s bytes on to `to` until `limit` of them have gone, then stops reading and calls
 * `cut` (which drops the connections); a body no longer than that goes through whole.
 */
function forwardUpTo(from: IncomingMessage, to: Writable, limit: number, cut: () => void): void {
  let forwarded = 0;
  from.on('data', (chunk: Buffer) => {
    if (forwarded >= limit) return;
    const part = chunk.subarray(0, limit - forwarded);
    forwarded += part.length;
    to.write(part);
    if (forwarded >= limit) {
      from.destroy();
      cut();
    }
  });
  from.on('end', () => to.end());
}
