import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { InvalidBlobKeyError, normalizeBlobPrefix } from '../blob-store/blob-store.port.js';
import { type LockMode, RepositoryStoreError } from './repository-store.port.js';

/** S3 allows 5 MiB to 5 GiB per part (the last part may be smaller) and 10,000 parts. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
const MAX_PART_BYTES = 5 * 1024 * 1024 * 1024;

/**
 * Where an S3 repository is and how to talk to it. Holds no secret: credentials are resolved
 * separately (`resolveS3Credentials`) and handed to the adapter, so this can be stored and shown.
 */
export interface S3RepositoryConfig {
  /** `https://s3.example.com`; unset for AWS itself (the region picks the endpoint). */
  endpoint?: string;
  region: string;
  bucket: string;
  /** '' or a key prefix ending in '/': the repository's objects lie under it, so one bucket can hold several. */
  prefix: string;
  /** Path-style URLs (`endpoint/bucket/key`), which most S3-compatible servers need; false for virtual-host (`bucket.endpoint/key`). */
  forcePathStyle: boolean;
  storageClass?: string;
  /** Every copy is locked for `days` in `mode` unless a put says otherwise; the bucket must have Object Lock enabled. */
  objectLock?: { mode: LockMode; days: number };
  /**
   * Bytes per multipart part (at least 5 MiB, the default: memory): an upload holds
   * max(2, queueSize) parts. S3 takes at most 10,000 parts (48.8 GiB at 5 MiB); a put told its size
   * (`sizeBytes`) uses larger parts where it needs them.
   */
  partSizeBytes: number;
  /** Parts uploaded at once. */
  queueSize: number;
  /** Attempts per request (the SDK's standard retry: backoff with jitter on throttling, timeouts and 5xx; never on other 4xx). */
  maxAttempts: number;
  connectionTimeoutMs: number;
  /** A request or download idle this long fails (and is retried, while its response has not begun). */
  socketTimeoutMs: number;
  /** Verify every put by reading it back, even where the store's checksum or ETag would do. */
  readBackVerify: boolean;
}

const bucketName = z
  .string()
  .trim()
  .refine((name) => /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) && !name.includes('..') && !/^\d+\.\d+\.\d+\.\d+$/.test(name), {
    message: 'bucket must be an S3 bucket name: 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit',
  });

const endpointUrl = z
  .string()
  .trim()
  .refine(
    (value) => {
      try {
        const url = new URL(value);
        return (url.protocol === 'https:' || url.protocol === 'http:') && url.username === '' && url.password === '' && url.search === '' && url.hash === '';
      } catch {
        return false;
      }
    },
    { message: 'endpoint must be an http:// or https:// URL without credentials, query or fragment, e.g. https://s3.example.com' },
  );

const keyPrefix = z
  .string()
  .trim()
  .transform((value, ctx) => {
    try {
      const normalized = normalizeBlobPrefix(value);
      return normalized === '' ? '' : `${normalized}/`;
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `prefix ${error instanceof InvalidBlobKeyError ? error.message.replace(/^Invalid blob key/, 'is invalid:') : 'is invalid'}` });
      return z.NEVER;
    }
  });

/** A repository's S3 settings as an admin gives them (defaults filled in), with messages naming the field. */
export const s3RepositoryConfigSchema = z
  .object({
    endpoint: endpointUrl.optional(),
    region: z.string().trim().regex(/^[a-z0-9-]{1,32}$/, 'region must be a region name like us-east-1').default('us-east-1'),
    bucket: bucketName,
    prefix: keyPrefix.default(''),
    forcePathStyle: z.boolean().optional(),
    storageClass: z
      .string()
      .regex(/^[A-Z][A-Z0-9_]{0,63}$/, 'storageClass must be a storage class name like STANDARD or STANDARD_IA')
      .optional(),
    objectLock: z
      .object({
        mode: z.enum(['GOVERNANCE', 'COMPLIANCE'], { message: 'objectLock.mode must be GOVERNANCE or COMPLIANCE' }),
        days: z.number().int().min(1, 'objectLock.days must be at least 1').max(36_500, 'objectLock.days must be at most 36500 (100 years)'),
      })
      .optional(),
    partSizeBytes: z.number().int().min(MIN_PART_BYTES, 'partSizeBytes must be at least 5 MiB (5242880), the least S3 accepts').max(MAX_PART_BYTES).default(MIN_PART_BYTES),
    queueSize: z.number().int().min(1).max(16).default(2),
    maxAttempts: z.number().int().min(1).max(20).default(6),
    connectionTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
    socketTimeoutMs: z.number().int().min(1000).max(3_600_000).default(120_000),
    readBackVerify: z.boolean().default(false),
  })
  .strict()
  // Servers at an endpoint of their own mostly serve path-style only; AWS itself prefers virtual-host.
  .transform((config): S3RepositoryConfig => ({ ...config, forcePathStyle: config.forcePathStyle ?? config.endpoint !== undefined }));

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/**
 * Where a repository's credentials come from: the names of two environment variables, or a file
 * (mode 0600, e.g. a Docker secret) holding `{"accessKeyId": "…", "secretAccessKey": "…"}`.
 * Only this reference is stored; the values are read when the adapter is made.
 */
export type S3CredentialSource = { accessKeyIdEnv: string; secretAccessKeyEnv: string } | { secretsFile: string };

const credentialsFile = z.object({
  accessKeyId: z.string().min(1),
  secretAccessKey: z.string().min(1),
  sessionToken: z.string().min(1).optional(),
});

/**
 * Reads the credentials a source names. Errors name the variable or the file and what is wrong,
 * never a value: not even a part of a malformed file is echoed, since it may be the secret.
 */
export async function resolveS3Credentials(source: S3CredentialSource, env: NodeJS.ProcessEnv = process.env): Promise<S3Credentials> {
  if ('secretsFile' in source) {
    let text: string;
    try {
      text = await readFile(source.secretsFile, 'utf8');
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'an error';
      throw new RepositoryStoreError('config', `Cannot read the S3 secrets file ${source.secretsFile} (${code}): it must exist and be readable by this process`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new RepositoryStoreError('config', `The S3 secrets file ${source.secretsFile} is not JSON: it must hold {"accessKeyId": "…", "secretAccessKey": "…"}`);
    }
    const result = credentialsFile.safeParse(parsed);
    if (!result.success) {
      const fields = [...new Set(result.error.issues.map((issue) => issue.path.join('.') || 'the document'))].join(', ');
      throw new RepositoryStoreError('config', `The S3 secrets file ${source.secretsFile} must hold {"accessKeyId": "…", "secretAccessKey": "…"} as non-empty strings (wrong or missing: ${fields})`);
    }
    return result.data;
  }
  const read = (name: string, what: string): string => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new RepositoryStoreError('config', `${JSON.stringify(name)} is not an environment variable name (for the ${what})`);
    const value = env[name]?.trim();
    if (!value) throw new RepositoryStoreError('config', `The environment variable ${name} (the S3 ${what}) is not set or empty in this process`);
    return value;
  };
  return { accessKeyId: read(source.accessKeyIdEnv, 'access key id'), secretAccessKey: read(source.secretAccessKeyEnv, 'secret access key') };
}
