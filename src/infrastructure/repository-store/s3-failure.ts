import { quoted } from '../../platform/text/control-characters.js';
import { IntegrityError, ObjectNotFoundError, RepositoryStoreError } from './repository-store.port.js';

/** What was being done when an S3 request failed, so the message can say it and name the permission it needs. */
export interface S3Doing {
  /** `write "backups/1.zip"`: completes "Could not …". */
  what: string;
  /** The IAM action that covers it (`s3:PutObject`), named when the store says AccessDenied. */
  action: string;
  /** The object's key, when the request was about one (a 404 then means that object, not the bucket). */
  key?: string;
  bucket: string;
  /** `s3://bucket/prefix at https://endpoint`. */
  location: string;
}

const TLS_CODES = new Set([
  'EPROTO',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME']);
const CONNECTION_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENETUNREACH', 'EHOSTUNREACH', 'ECONNABORTED']);

interface SdkErrorShape {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  hostname?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

const shape = (error: unknown): SdkErrorShape => (typeof error === 'object' && error !== null ? (error as SdkErrorShape) : {});

/** The S3 error code (`NoSuchBucket`), the Node error code (`ECONNREFUSED`), or the error's name. */
export function s3ErrorCode(error: unknown): string {
  const e = shape(error);
  return e.Code ?? e.code ?? e.name ?? '';
}

export const s3Status = (error: unknown): number | undefined => shape(error).$metadata?.httpStatusCode;

/**
 * One S3 failure in words that say what to do, as a port error. The store's own message is remote
 * text: it is quoted (escaped, cut), never passed on raw, and secrets never reach it (the SDK signs
 * requests; no credential is in an error).
 */
export function s3Failure(error: unknown, doing: S3Doing): RepositoryStoreError {
  if (error instanceof RepositoryStoreError) return error;
  const e = shape(error);
  const code = s3ErrorCode(error);
  const status = s3Status(error);
  const attempts = e.$metadata?.attempts;
  const could = `Could not ${doing.what} (${doing.location})`;
  const cause = { cause: error };
  const remote = e.message && e.message !== 'UnknownError' && e.message !== code ? `: ${quoted(e.message, 200)}` : '';

  switch (code) {
    case 'NoSuchKey':
      return doing.key !== undefined ? new ObjectNotFoundError(doing.key, doing.location) : new RepositoryStoreError('not-found', `${could}: no such object`, cause);
    case 'NoSuchBucket':
      return new RepositoryStoreError('no-bucket', `${could}: the bucket ${quoted(doing.bucket)} does not exist there; create it, or correct the bucket name (and the endpoint and region)`, cause);
    case 'InvalidAccessKeyId':
      return new RepositoryStoreError('credentials', `${could}: the store does not know the access key id (InvalidAccessKeyId); check the access key id the repository's credentials name`, cause);
    case 'SignatureDoesNotMatch':
      return new RepositoryStoreError(
        'credentials',
        `${could}: the secret access key does not match the access key id (SignatureDoesNotMatch); check the secret (and the region, which is part of the signature)`,
        cause,
      );
    case 'ExpiredToken':
    case 'InvalidToken':
    case 'TokenRefreshRequired':
      return new RepositoryStoreError('credentials', `${could}: the credentials' session token is expired or invalid (${code}); renew them`, cause);
    case 'AccessDenied':
    case 'AllAccessDisabled':
      return new RepositoryStoreError(
        'permission',
        `${could}: the store refuses this key permission to do that (AccessDenied); grant it ${doing.action} on ${quoted(doing.bucket)}${remote}`,
        cause,
      );
    case 'RequestTimeTooSkewed':
      return new RepositoryStoreError(
        'clock',
        `${could}: this machine's clock differs from the store's by more than it accepts (RequestTimeTooSkewed); set the clock right (NTP)`,
        cause,
      );
    case 'SlowDown':
    case 'Throttling':
    case 'ThrottlingException':
    case 'RequestLimitExceeded':
    case 'TooManyRequestsException':
      return new RepositoryStoreError('throttled', `${could}: the store kept asking to slow down (${code}) through ${attempts ?? 'several'} attempts with backoff; try again later`, cause);
    case 'PreconditionFailed':
      return new RepositoryStoreError('changed', `${could}: the object changed since it was first read (PreconditionFailed: its ETag is no longer the one asked for)`, cause);
    case 'InvalidRange':
      return new RepositoryStoreError('invalid-range', `${could}: the range lies outside the object (InvalidRange)`, cause);
    case 'QuotaExceeded':
      return new RepositoryStoreError(
        'full',
        `${could}: the store is full: it refuses more data (QuotaExceeded) because the bucket's or the account's quota is used up; free space there (delete old copies) or have the quota raised`,
        cause,
      );
    case 'EntityTooLarge':
      return new RepositoryStoreError('refused', `${could}: the store refuses an object this large (EntityTooLarge): the object is bigger than the largest one it takes${remote}`, cause);
    case 'BadDigest':
    case 'InvalidDigest':
    case 'XAmzContentSHA256Mismatch':
      return new IntegrityError(doing.key ?? doing.what, `the store received other bytes than were sent (${code}); nothing was stored`);
    case 'ObjectLockConfigurationNotFoundError':
      return new RepositoryStoreError('unsupported', `${could}: the bucket ${quoted(doing.bucket)} does not have Object Lock enabled`, cause);
    case 'InvalidRequest':
    case 'InvalidArgument':
      if (/object lock/i.test(e.message ?? '')) {
        return new RepositoryStoreError('unsupported', `${could}: the bucket ${quoted(doing.bucket)} cannot lock objects (Object Lock is not enabled on it)${remote}`, cause);
      }
      break;
    case 'NotFound':
      // HEAD answers carry no body, so no code: a 404 is the object when there is one, else the bucket.
      if (doing.key !== undefined) return new ObjectNotFoundError(doing.key, doing.location);
      return new RepositoryStoreError('no-bucket', `${could}: the bucket ${quoted(doing.bucket)} does not exist there; create it, or correct its name`, cause);
    case 'ECONNREFUSED':
      return new RepositoryStoreError('network', `${could}: nothing accepts connections at the endpoint (connection refused); is the server running, and are the host and port right?`, cause);
    case 'TimeoutError':
    case 'RequestTimeout':
      return new RepositoryStoreError('network', `${could}: the store did not answer in time (${code}), through ${attempts ?? 'several'} attempts`, cause);
    default:
      break;
  }
  if (DNS_CODES.has(code)) {
    return new RepositoryStoreError('network', `${could}: the endpoint's host name${e.hostname ? ` ${quoted(e.hostname)}` : ''} cannot be resolved (${code}); check its spelling and this machine's DNS`, cause);
  }
  if (TLS_CODES.has(code) || /ssl|tls|certificate/i.test(e.message ?? '')) {
    const wrongVersion = /wrong version number/i.test(e.message ?? '');
    return new RepositoryStoreError(
      'tls',
      wrongVersion
        ? `${could}: the endpoint does not speak TLS on that port (it answered plain HTTP to https://); use http:// or the server's TLS port`
        : `${could}: the TLS connection failed (${code}): the server's certificate is not trusted by this machine (self-signed, expired or for another name); fix the certificate, or trust its CA with NODE_EXTRA_CA_CERTS`,
      cause,
    );
  }
  if (CONNECTION_CODES.has(code)) {
    return new RepositoryStoreError('network', `${could}: the connection to the store broke (${code}), through ${attempts ?? 'several'} attempts`, cause);
  }
  if (status === 403) {
    return new RepositoryStoreError(
      'credentials',
      `${could}: the store refused access (403 without a reason): check the access key id and secret, and that the key may ${doing.action} on ${quoted(doing.bucket)}`,
      cause,
    );
  }
  if (status !== undefined && status >= 500) {
    return new RepositoryStoreError('unavailable', `${could}: the store answered ${status}${code ? ` ${code}` : ''} through ${attempts ?? 'several'} attempts with backoff; try again later`, cause);
  }
  return new RepositoryStoreError('config', `${could}: the store answered ${status ?? 'with an error'}${code ? ` ${code}` : ''}${remote}`, cause);
}
