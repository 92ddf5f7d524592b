import { resolve } from 'node:path';
import { z } from 'zod';
import { checkEmail } from '../platform/email.js';
import { readHeapGrowingPercent } from '../platform/heap/heap-growth.js';

/**
 * Every setting AppVault reads from the environment, validated once at start-up.
 * A wrong value stops the process with a message naming the variable and what it expects,
 * because a backup product that silently falls back to defaults is one nobody can trust.
 */
const optionalUrl = (variable: string, schemes: string[]) =>
  z
    .string()
    .trim()
    .optional()
    .transform((value) => (value === '' ? undefined : value))
    .refine((value) => value === undefined || schemes.some((s) => value.startsWith(`${s}://`)), {
      message: `${variable} must be a URL starting with ${schemes.map((s) => `${s}://`).join(' or ')}`,
    });

const integer = (variable: string, min: number, max: number, fallback: number) =>
  z
    .string()
    .trim()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === '') return fallback;
      const parsed = Number(value);
      if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
        ctx.addIssue({ code: 'custom', message: `${variable} must be an integer between ${min} and ${max} (got "${value}")` });
        return z.NEVER;
      }
      return parsed;
    });

const envSchema = z.object({
  PORT: integer('PORT', 0, 65535, 8080),
  HOST: z.string().trim().min(1).optional().default('0.0.0.0'),
  DATA_DIR: z.string().trim().min(1, 'DATA_DIR must not be empty').optional().default('./data'),
  // Exactly what @eventstore/db-client 6.x parses; it does not read the newer kurrentdb:// spelling.
  EVENTSTORE_URL: optionalUrl('EVENTSTORE_URL', ['esdb', 'esdb+discover']),
  MONGO_URL: optionalUrl('MONGO_URL', ['mongodb', 'mongodb+srv']),
  ADMIN_EMAIL: z
    .string()
    .trim()
    .optional()
    .default('admin@localhost')
    .refine((value) => 'email' in checkEmail(value), { message: 'ADMIN_EMAIL must be an email address like admin@example.com (ASCII name part, no invisible characters)' }),
  ADMIN_TOKEN: z
    .string()
    .optional()
    .transform((value) => (value === '' ? undefined : value))
    .refine((value) => value === undefined || value.length >= 16, {
      message: 'ADMIN_TOKEN must be at least 16 characters long (or unset to generate one)',
    }),
  MAX_BACKUPS_PER_APP: integer('MAX_BACKUPS_PER_APP', 1, 10_000, 10),
  // Scheduled backups: the most an app keeps (what retention rules may add up to), and the least time between two runs.
  MAX_SCHEDULED_BACKUPS_PER_APP: integer('MAX_SCHEDULED_BACKUPS_PER_APP', 1, 10_000, 50),
  // Incremental backups: a chain gets a full backup after this many increments, or once its full backup is this many days old.
  MAX_INCREMENTAL_CHAIN: integer('MAX_INCREMENTAL_CHAIN', 1, 1000, 30),
  MAX_INCREMENTAL_CHAIN_DAYS: integer('MAX_INCREMENTAL_CHAIN_DAYS', 1, 3660, 31),
  BACKUP_SCHEDULE_MIN_INTERVAL_MS: integer('BACKUP_SCHEDULE_MIN_INTERVAL_MS', 1000, 31 * 24 * 3600 * 1000, 15 * 60_000),
  MAX_UPLOAD_BYTES: integer('MAX_UPLOAD_BYTES', 1, Number.MAX_SAFE_INTEGER, 512 * 1024 * 1024),
  MAX_RESTORE_BYTES: integer('MAX_RESTORE_BYTES', 1, Number.MAX_SAFE_INTEGER, 10 * 1024 * 1024 * 1024),
  MAX_RESTORE_EXPANDED_BYTES: integer('MAX_RESTORE_EXPANDED_BYTES', 1, Number.MAX_SAFE_INTEGER, 200 * 1024 * 1024 * 1024),
  // Restores the server stopped under (Interrupted) continue on their own at the next start; `false` leaves them to POST /api/restore/{id}/resume.
  RESUME_RESTORES_AT_STARTUP: z.enum(['true', 'false'], { message: 'RESUME_RESTORES_AT_STARTUP must be true or false' }).optional().default('true'),
  RESTORE_URL_TIMEOUT_MS: integer('RESTORE_URL_TIMEOUT_MS', 1000, 24 * 3600 * 1000, 10 * 60 * 1000),
  RESTORE_ALLOWED_HOSTS: z
    .string()
    .optional()
    .transform((value) => (value ?? '').split(',').map((h) => h.trim().toLowerCase()).filter((h) => h !== '')),
  NAME_RESERVATION_TTL_MS: integer('NAME_RESERVATION_TTL_MS', 1000, 24 * 3600 * 1000, 60_000),
  EVENTSTORE_MAX_APPEND_BYTES: integer('EVENTSTORE_MAX_APPEND_BYTES', 64 * 1024, 1024 * 1024 * 1024, 1024 * 1024),
  // How long an unreachable EventStoreDB or MongoDB is retried at start-up before the process gives up.
  STORE_CONNECT_TIMEOUT_MS: integer('STORE_CONNECT_TIMEOUT_MS', 0, 3600 * 1000, 60_000),
  // Below Kubernetes' default 30 s grace period, so the pod stops on its own terms.
  SHUTDOWN_TIMEOUT_MS: integer('SHUTDOWN_TIMEOUT_MS', 0, 10 * 60_000, 25_000),
  LOG_LEVEL: z.enum(['error', 'warn', 'log', 'debug', 'verbose'], {
    message: 'LOG_LEVEL must be one of error, warn, log, debug, verbose',
  }).optional().default('log'),
  // The address other installations and people reach this one at; links are made with it.
  PUBLIC_URL: optionalUrl('PUBLIC_URL', ['http', 'https']).transform((value) => value?.replace(/\/+$/, '')),
  // Signs download links; replicas of one installation must share it (else one is made and stored).
  LINK_SECRET: z
    .string()
    .optional()
    .transform((value) => (value === '' ? undefined : value))
    .refine((value) => value === undefined || value.length >= 32, { message: 'LINK_SECRET must be at least 32 characters long (or unset to generate one)' }),
  // The installation's own age identity from a file (as age-keygen writes it) instead of one made and
  // kept in the read store: the key that opens archives encrypted to this installation then lives
  // apart from its data (a mounted secret), and every process of the installation reads the same.
  AGE_IDENTITY_FILE: z
    .string()
    .trim()
    .optional()
    .transform((value) => (value === '' ? undefined : value)),
  LOG_FORMAT: z.enum(['text', 'json'], { message: 'LOG_FORMAT must be text or json' }).optional().default('text'),
  // A backup's copy to a repository that fails for a reason that may pass (down, throttling, a cut
  // connection) is tried again this many times in all, waiting the delay, doubled each time up to the cap.
  COPY_ATTEMPTS: integer('COPY_ATTEMPTS', 1, 20, 3),
  COPY_RETRY_DELAY_MS: integer('COPY_RETRY_DELAY_MS', 0, 3600 * 1000, 5000),
  COPY_RETRY_MAX_DELAY_MS: integer('COPY_RETRY_MAX_DELAY_MS', 0, 24 * 3600 * 1000, 5 * 60_000),
  // Unfinished uploads older than this are removed from every repository at start-up and daily; another installation may share one, so longer than any upload takes.
  REPOSITORY_STALE_UPLOAD_MS: integer('REPOSITORY_STALE_UPLOAD_MS', 1000, 365 * 24 * 3600 * 1000, 24 * 3600 * 1000),
  // File versions of at least this many bytes are stored once per app in a repository and shared by its copies (0: every copy holds its archive whole).
  REPOSITORY_SHARED_FILE_MIN_BYTES: integer('REPOSITORY_SHARED_FILE_MIN_BYTES', 0, Number.MAX_SAFE_INTEGER, 64 * 1024),
  // Download links answer with a redirect to a presigned URL of a copy in an S3 repository (see docs/production.md for the trade-off).
  LINK_PRESIGNED_REDIRECTS: z.enum(['true', 'false'], { message: 'LINK_PRESIGNED_REDIRECTS must be true or false' }).optional().default('false'),
  LINK_PRESIGNED_TTL_SECONDS: integer('LINK_PRESIGNED_TTL_SECONDS', 1, 7 * 24 * 3600, 300),
  // How long a diff request waits for its diff before answering 202 (clients give up waiting for headers after minutes; large diffs take longer).
  DIFF_WAIT_SECONDS: integer('DIFF_WAIT_SECONDS', 0, 240, 20),
  // How far V8's heap may grow past what is live before a major collection (src/platform/heap/heap-growth.ts); 0: V8's own heuristic.
  HEAP_GROWING_PERCENT: z
    .string()
    .optional()
    .transform((value, ctx) => {
      const read = readHeapGrowingPercent(value);
      if (typeof read === 'number') return read;
      ctx.addIssue({ code: 'custom', message: read.problem });
      return z.NEVER;
    }),
});


export interface AppConfig {
  port: number;
  host: string;
  dataDir: string;
  eventStoreUrl?: string;
  mongoUrl?: string;
  adminEmail: string;
  adminToken?: string;
  maxBackupsPerApp: number;
  maxScheduledBackupsPerApp: number;
  backupScheduleMinIntervalMs: number;
  /** A backup asked to be incremental is full once its chain has this many increments (MAX_INCREMENTAL_CHAIN). */
  maxIncrementalChain: number;
  /** …or once the chain's full backup is this many days old (MAX_INCREMENTAL_CHAIN_DAYS). */
  maxIncrementalChainDays: number;
  maxUploadBytes: number;
  maxRestoreBytes: number;
  maxRestoreExpandedBytes: number;
  restoreUrlTimeoutMs: number;
  resumeRestoresAtStartUp: boolean;
  restoreAllowedHosts: string[];
  /** Link downloads redirect to a presigned URL of a repository's copy, where one can be made. */
  linkPresignedRedirects: boolean;
  /** How long such a URL is valid at most (never past the link's own expiry). */
  linkPresignedTtlSeconds: number;
  /** A diff request not answered within this many seconds answers 202 and its diff goes on (DIFF_WAIT_SECONDS). */
  diffWaitSeconds: number;
  nameReservationTtlMs: number;
  shutdownTimeoutMs: number;
  storeConnectTimeoutMs: number;
  eventStoreMaxAppendBytes: number;
  logLevel: 'error' | 'warn' | 'log' | 'debug' | 'verbose';
  logFormat: 'text' | 'json';
  publicUrl?: string;
  linkSecret?: string;
  /** Where the installation's age identity is read from (absolute); unset: made once and kept in the read store. */
  ageIdentityFile?: string;
  /** How a failed copy to a repository is tried again (src/backup/create/copy-retry.ts). */
  copyRetry: { attempts: number; delayMs: number; maxDelayMs: number };
  repositoryStaleUploadMs: number;
  /** Asset entries of at least this many bytes go to a repository's shared files (src/repositories/shared/copy-files.ts); 0: none. */
  repositorySharedFileMinBytes: number;
  /** V8's heap may grow this many percent past what is live before a major collection; 0: V8's own heuristic. */
  heapGrowingPercent: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: Record<string, string | undefined>): AppConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const variable = String(issue.path[0] ?? '');
        return issue.message.includes(variable) ? issue.message : `${variable}: ${issue.message}`;
      }),
    );
  }
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: resolve(e.DATA_DIR),
    eventStoreUrl: e.EVENTSTORE_URL,
    mongoUrl: e.MONGO_URL,
    adminEmail: e.ADMIN_EMAIL.toLowerCase(),
    adminToken: e.ADMIN_TOKEN,
    maxBackupsPerApp: e.MAX_BACKUPS_PER_APP,
    maxScheduledBackupsPerApp: e.MAX_SCHEDULED_BACKUPS_PER_APP,
    backupScheduleMinIntervalMs: e.BACKUP_SCHEDULE_MIN_INTERVAL_MS,
    maxIncrementalChain: e.MAX_INCREMENTAL_CHAIN,
    maxIncrementalChainDays: e.MAX_INCREMENTAL_CHAIN_DAYS,
    maxUploadBytes: e.MAX_UPLOAD_BYTES,
    maxRestoreBytes: e.MAX_RESTORE_BYTES,
    maxRestoreExpandedBytes: e.MAX_RESTORE_EXPANDED_BYTES,
    restoreUrlTimeoutMs: e.RESTORE_URL_TIMEOUT_MS,
    resumeRestoresAtStartUp: e.RESUME_RESTORES_AT_STARTUP === 'true',
    restoreAllowedHosts: e.RESTORE_ALLOWED_HOSTS,
    linkPresignedRedirects: e.LINK_PRESIGNED_REDIRECTS === 'true',
    linkPresignedTtlSeconds: e.LINK_PRESIGNED_TTL_SECONDS,
    diffWaitSeconds: e.DIFF_WAIT_SECONDS,
    nameReservationTtlMs: e.NAME_RESERVATION_TTL_MS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    storeConnectTimeoutMs: e.STORE_CONNECT_TIMEOUT_MS,
    eventStoreMaxAppendBytes: e.EVENTSTORE_MAX_APPEND_BYTES,
    logLevel: e.LOG_LEVEL,
    publicUrl: e.PUBLIC_URL,
    linkSecret: e.LINK_SECRET,
    ageIdentityFile: e.AGE_IDENTITY_FILE === undefined ? undefined : resolve(e.AGE_IDENTITY_FILE),
    logFormat: e.LOG_FORMAT,
    copyRetry: { attempts: e.COPY_ATTEMPTS, delayMs: e.COPY_RETRY_DELAY_MS, maxDelayMs: Math.max(e.COPY_RETRY_MAX_DELAY_MS, e.COPY_RETRY_DELAY_MS) },
    repositoryStaleUploadMs: e.REPOSITORY_STALE_UPLOAD_MS,
    repositorySharedFileMinBytes: e.REPOSITORY_SHARED_FILE_MIN_BYTES,
    heapGrowingPercent: e.HEAP_GROWING_PERCENT,
  };
}

/** Injection token for the validated configuration. */
export const APP_CONFIG = Symbol('APP_CONFIG');
