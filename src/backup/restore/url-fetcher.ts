import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { isGloballyRoutable } from './address-policy.js';
import { Transform } from 'node:stream';
import { archiveChanged, describeUrl, type DownloadValidator } from './restore-job.js';
import { excerpt } from '../../platform/text/control-characters.js';
import { pipeline } from 'node:stream/promises';
import { contentRange } from '../../platform/http/content-range.js';
import { ResumeRefusedError } from './restore-resumption.js';

/** Why a URL was refused or failed; the message says what to do about it. */
export class UnsafeUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeUrlError';
  }
}

export class DownloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DownloadError';
  }
}

const MAX_REDIRECTS = 5;

/** Anything but a globally routable unicast address (see address-policy.ts). */
export function isBlockedAddress(address: string): boolean {
  return !isGloballyRoutable(address);
}

export interface FetchOptions {
  allowedHosts: string[];
  maxBytes: number;
  timeoutMs: number;
}

/** A download that may continue one cut short, and keep what it got when it is stopped (a restore's). */
export interface ResumableDownload {
  /** The validator of the first attempt, once it answered (undefined: a first attempt). */
  validator?: DownloadValidator | null;
  /** Told the validator before the body is written: the caller keeps it to resume against. */
  onValidator?(validator: DownloadValidator): Promise<void>;
  /** Stops the download, keeping what was written (the server is stopping). */
  signal?: AbortSignal;
}


/** Checks scheme and credentials before any connection is made. */
export function checkUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UnsafeUrlError('The restore URL is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UnsafeUrlError(`Only http and https URLs can be restored from, not ${url.protocol.replace(':', '')}`);
  }
  return url;
}

function hostAllowed(url: URL, allowedHosts: string[]): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return allowedHosts.includes(host) || allowedHosts.includes(`${host}:${url.port || (url.protocol === 'https:' ? '443' : '80')}`);
}

/**
 * Resolves the host and refuses blocked addresses at connection time, so a DNS answer cannot
 * change between the check and the connect (rebinding).
 */
function guardedLookup(url: URL, allowedHosts: string[]): LookupFunction {
  const allowed = hostAllowed(url, allowedHosts);
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 4);
      const list = (addresses as unknown as LookupAddress[]) ?? [];
      const usable = allowed ? list : list.filter((a) => !isBlockedAddress(a.address));
      if (usable.length === 0) {
        const seen = list.map((a) => a.address).join(', ');
        return callback(
          new UnsafeUrlError(`${hostname} resolves to ${seen || 'nothing'}, a loopback, private, link-local or reserved address; add the host to RESTORE_ALLOWED_HOSTS to allow it`),
          '',
          4,
        );
      }
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, usable);
      return callback(null, usable[0]!.address, usable[0]!.family);
    });
  };
}

function request(url: URL, options: FetchOptions, signal: AbortSignal, headers: Record<string, string> = {}): Promise<IncomingMessage> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) && isBlockedAddress(host) && !hostAllowed(url, options.allowedHosts)) {
    return Promise.reject(new UnsafeUrlError(`${host} is a loopback, private, link-local or reserved address; add it to RESTORE_ALLOWED_HOSTS to allow it`));
  }
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.get(url, { lookup: guardedLookup(url, options.allowedHosts), signal, headers: { 'user-agent': 'AppVault-restore', ...headers } }, resolve);
    req.once('error', reject);
  });
}

/**
 * Downloads a URL to a file, following at most five redirects and checking every hop. The body
 * is streamed to disk with a byte limit and an overall timeout; a partial file is removed, unless
 * `resumable.signal` stopped it (a restore interrupted: it continues later). With
 * `resumable.validator` and a partial file, it asks for the rest only (`Range`, with `If-Range`),
 * appends it, and starts over when the server sends the whole archive again; an archive whose
 * ETag (or Last-Modified, or size) is not the first attempt's is refused (ResumeRefusedError).
 */
export async function downloadToFile(raw: string, file: string, options: FetchOptions, resumable: ResumableDownload = {}): Promise<{ bytes: number; finalUrl: string; resumedAt: number }> {
  let url = checkUrl(raw);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs);
  const stop = resumable.signal;
  const onStop = () => controller.abort();
  stop?.addEventListener('abort', onStop, { once: true });
  const known = resumable.validator ?? null;
  const have = known ? await stat(file).then((s) => s.size, () => 0) : 0;
  const ifRange = known?.etag ?? known?.lastModified ?? null;
  const headers: Record<string, string> = have > 0 && ifRange ? { range: `bytes=${have}-`, 'if-range': ifRange } : {};
  try {
    for (let hop = 0; ; hop++) {
      let response: IncomingMessage;
      try {
        response = await request(url, options, controller.signal, headers);
      } catch (error) {
        if (error instanceof UnsafeUrlError) throw error;
        if (stop?.aborted) throw stop.reason;
        if (controller.signal.aborted) throw new DownloadError(`Downloading ${url.origin} timed out after ${options.timeoutMs} ms`);
        throw new DownloadError(`Could not reach ${url.host}: ${(error as Error).message}`);
      }
      const status = response.statusCode ?? 0;
      if (status >= 300 && status < 400 && response.headers.location) {
        response.resume();
        if (hop >= MAX_REDIRECTS) throw new DownloadError(`More than ${MAX_REDIRECTS} redirects from ${describeUrl(raw)}`);
        url = checkUrl(new URL(response.headers.location, url).toString());
        continue;
      }
      if (status === 416 && known?.size === have) {
        // The first attempt had every byte: nothing is left to fetch.
        response.resume();
        return { bytes: have, finalUrl: url.toString(), resumedAt: have };
      }
      if (status !== 200 && status !== 206) {
        const reason = await errorMessageOf(response);
        throw new DownloadError(`${describeUrl(url.toString())} answered HTTP ${status}${reason ? ` (${reason})` : ''}; expected 200 with the archive`);
      }
      const validator = validatorOf(response);
      const start = status === 206 ? (contentRange(response.headers['content-range'])?.start ?? Number.NaN) : 0;
      if (status === 206 && start !== have) {
        response.destroy();
        throw new DownloadError(`${describeUrl(url.toString())} answered a range from byte ${start}, not ${have} as asked`);
      }
      if (known) {
        if (archiveChanged(known, validator)) {
          response.destroy();
          throw new ResumeRefusedError(
            `The archive at ${describeUrl(url.toString())} changed since this restore began downloading it (ETag ${validator.etag ?? '-'}, was ${known.etag ?? '-'}; ${validator.size ?? '?'} bytes, was ${known.size ?? '?'}); a restore cannot continue from another archive`,
          );
        }
      } else {
        await resumable.onValidator?.(validator);
      }
      const declared = validator.size;
      if (declared !== null && declared > options.maxBytes) {
        response.destroy();
        throw new DownloadError(`The archive is ${declared} bytes, more than the ${options.maxBytes} allowed (MAX_RESTORE_BYTES)`);
      }
      let bytes = start;
      const limit = new Transform({
        transform(chunk: Buffer, _enc, callback) {
          bytes += chunk.length;
          if (bytes > options.maxBytes) callback(new DownloadError(`The archive is larger than the ${options.maxBytes} bytes allowed (MAX_RESTORE_BYTES)`));
          else callback(null, chunk);
        },
      });
      try {
        await pipeline(response, limit, createWriteStream(file, { mode: 0o600, flags: start > 0 ? 'a' : 'w' }));
      } catch (error) {
        if (stop?.aborted) throw stop.reason;
        await rm(file, { force: true });
        if (error instanceof DownloadError) throw error;
        if (controller.signal.aborted) throw new DownloadError(`Downloading ${url.origin} timed out after ${options.timeoutMs} ms`);
        throw new DownloadError(`The download from ${url.host} broke off: ${(error as Error).message}`);
      }
      return { bytes, finalUrl: url.toString(), resumedAt: start };
    }
  } finally {
    clearTimeout(timer);
    stop?.removeEventListener('abort', onStop);
  }
}

/** The validator an answer gives (a 206's total size is in its Content-Range). */
function validatorOf(response: IncomingMessage): DownloadValidator {
  const etag = typeof response.headers.etag === 'string' ? response.headers.etag.slice(0, 200) : null;
  const lastModified = typeof response.headers['last-modified'] === 'string' ? response.headers['last-modified'].slice(0, 100) : null;
  if (response.statusCode === 206) return { etag, lastModified, size: contentRange(response.headers['content-range'])?.total ?? null };
  const length = Number(response.headers['content-length'] ?? NaN);
  return { etag, lastModified, size: Number.isFinite(length) ? length : null };
}

/**
 * The `message` of a JSON error answer (another AppVault says why a link is refused: expired,
 * revoked), read from at most 4 KB and cut to one short line; otherwise nothing.
 */
async function errorMessageOf(response: IncomingMessage): Promise<string | undefined> {
  if (!String(response.headers['content-type'] ?? '').includes('json')) {
    response.resume();
    return undefined;
  }
  let text = '';
  try {
    for await (const chunk of response) {
      text += (chunk as Buffer).toString('utf8');
      if (text.length > 4096) break;
    }
  } catch {
    return undefined;
  } finally {
    response.destroy();
  }
  try {
    const message = (JSON.parse(text) as { message?: unknown }).message;
    // Another server's words: shown, never obeyed (escaped, cut short).
    return typeof message === 'string' ? excerpt(message, 300) : undefined;
  } catch {
    return undefined;
  }
}
