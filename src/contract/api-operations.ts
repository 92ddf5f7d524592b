import { z } from 'zod';
import { API_ROUTES, type RouteName } from './api-routes.js';
import { ApiKey, CreatedUser, CreateUserBody, User } from './users.schemas.js';
import { App, ContributorBody, CreateAppBody, HistoryPage, HistoryQuery, UpdateAppBody } from './apps.schemas.js';
import { CreateSchemaBody, FieldBody, Schema } from './app-schemas.schemas.js';
import { Content, ContentCreateQuery, ContentDataBody, ContentListQuery, ContentStatusBody } from './contents.schemas.js';
import { Asset, AssetContentQuery, AssetUploadForm } from './assets.schemas.js';
import { Backup, BackupCopy, CreateBackupBody, DeletedBackup, Selection, VerifyBackupBody } from './backups.schemas.js';
import { BackupDiff, DiffBody, DiffComputing, DiffItem, DiffQuery } from './diffs.schemas.js';
import { BackupPolicy, BackupPolicyBody } from './policies.schemas.js';
import { ChangeCounts, Rollback, RollbackBody, RollbackChanges, RollbackPreflight, RollbackTarget } from './rollbacks.schemas.js';
import { CreateLinkBody, Link, LinkQuery, NewLink } from './links.schemas.js';
import { Restore, RestoreBody, RestorePreflight, RestoreQuery, RestoreResumeBody, RestoreUploadForm } from './restores.schemas.js';
import { Health, Liveness, NotReady, Readiness } from './health.schemas.js';
import { ErrorBody, JobStreamEnd, LogLine, pageOf } from './common.schemas.js';
import { PageQuery } from './paging.schemas.js';
import { Encryption, InstallationRecipient, Recipient, RecipientBody, RecipientList } from './encryption.schemas.js';
import { CreateRepositoryBody, Repository, RepositoryBackup, RepositoryBackupList, RepositoryCheck, RepositoryList, UpdateRepositoryBody } from './repositories.schemas.js';

/** A JSON answer. */
export interface JsonAnswer<S extends z.ZodType = z.ZodType> {
  kind: 'json';
  schema: S;
  description?: string;
}
/** Server-sent events: `event: job` with the job (as its GET serves it) at each change, then `event: end`. */
export interface EventsAnswer<S extends z.ZodType = z.ZodType> {
  kind: 'events';
  schema: S;
}
/** Bytes: an archive or an asset's file. */
export interface FileAnswer {
  kind: 'file';
  mediaType: string;
  /** Other media types the same answer may carry (an encrypted archive is not a zip). */
  otherMediaTypes?: readonly string[];
  description?: string;
}
export interface EmptyAnswer {
  kind: 'empty';
  description?: string;
}
export type Answer = JsonAnswer | EventsAnswer | FileAnswer | EmptyAnswer;

/** What the contract says of one route beyond its method and path. */
export interface Operation {
  summary: string;
  tag: 'health' | 'users' | 'apps' | 'schemas' | 'contents' | 'assets' | 'backups' | 'links' | 'rollback' | 'restore' | 'repositories' | 'encryption';
  /** The JSON body, as the server validates it. */
  body?: z.ZodType;
  /** The query, as the server reads it. */
  query?: z.ZodObject;
  /** A multipart form the server streams by hand (described, not validated as a whole). */
  multipart?: z.ZodObject;
  /** Answers by status; more than one success where a request can ask for a dry run. */
  answers: Partial<Record<number, Answer>>;
  /** Error statuses besides those every route of its kind may answer (errorsOf). */
  errors?: number[];
}

const json = <S extends z.ZodType>(schema: S, description?: string): JsonAnswer<S> => ({ kind: 'json', schema, ...(description ? { description } : {}) });
const events = <S extends z.ZodType>(schema: S): EventsAnswer<S> => ({ kind: 'events', schema });
const empty: EmptyAnswer = { kind: 'empty' };
/** An archive download: whole, a part of it for a `Range` request, or nothing new for `If-None-Match`. */
const archive = {
  200: {
    kind: 'file',
    mediaType: 'application/zip',
    otherMediaTypes: ['application/octet-stream'],
    description: 'The archive, streamed, with `ETag`, `Repr-Digest` and `Accept-Ranges: bytes`; a `Range` request answers 206 with that part. An encrypted backup is an age file: `application/octet-stream`, named `….zip.age`',
  },
  206: { kind: 'file', mediaType: 'application/zip', otherMediaTypes: ['application/octet-stream'], description: 'The part of the archive a `Range` request asked for' },
  304: { kind: 'empty', description: 'Not modified: `If-None-Match` named this archive’s ETag' },
} as const satisfies Record<number, Answer>;
/** 503: the archive store lacks it and the repositories holding its copies do not answer. */
const ARCHIVE_ERRORS = [403, 404, 409, 416, 503];
/** A delete: nothing to say, or which copies stayed in append-only repositories. */
const deleted = {
  204: empty,
  200: json(DeletedBackup, 'Deleted, but copies in append-only repositories were kept there (AppVault never deletes in one; the operator’s own tool prunes)'),
} as const satisfies Record<number, Answer>;

const UserPage = pageOf(User);
const AppPage = pageOf(App);
const SchemaPage = pageOf(Schema);
const ContentPage = pageOf(Content);
const AssetPage = pageOf(Asset);
const BackupPage = pageOf(Backup);
const RestorePage = pageOf(Restore);
const RollbackPage = pageOf(Rollback);
const LinkPage = pageOf(Link);

/**
 * The named schemas of the OpenAPI document (`#/components/schemas/{name}`); any of them used
 * inside another is referenced, not repeated.
 */
export const COMPONENTS: Record<string, z.ZodType> = {
  Error: ErrorBody,
  Health,
  Liveness,
  Readiness,
  NotReady,
  User,
  CreatedUser,
  ApiKey,
  App,
  Schema,
  Content,
  Asset,
  EventPage: HistoryPage,
  BackupSelection: Selection,
  LogLine,
  Backup,
  BackupCopy,
  DeletedBackup,
  BackupDiff,
  DiffComputing,
  DiffItem,
  Encryption,
  Recipient,
  RecipientList,
  InstallationRecipient,
  Restore,
  RestorePreflight,
  BackupPolicy,
  RollbackPreflight,
  RollbackTarget,
  RollbackChanges,
  ChangeCounts,
  Rollback,
  NewLink,
  Link,
  JobStreamEnd,
  UserPage,
  AppPage,
  SchemaPage,
  ContentPage,
  AssetPage,
  BackupPage,
  RestorePage,
  RollbackPage,
  LinkPage,
  Repository,
  RepositoryList,
  RepositoryCheck,
  RepositoryBackup,
  RepositoryBackupList,
};

/**
 * Every route's request and answers, the single source of the OpenAPI document, of the clients'
 * types (src/contract/client) and of the test suites' check of every answer.
 */
export const API_OPERATIONS = {
  'health.get': { summary: 'Health, with the stores in use and the projection lag', tag: 'health', answers: { 200: json(Health), 503: json(Health, 'Start-up failed') } },
  'health.live': { summary: 'Liveness probe: 200 while the process runs', tag: 'health', answers: { 200: json(Liveness) } },
  'health.ready': {
    summary: 'Readiness probe: 200 once caught up and both stores answer, else 503',
    tag: 'health',
   
    answers: { 200: json(Readiness), 503: json(NotReady, 'Not ready: still starting, start-up failed, or a store does not answer; `reason` says which') },
  },

  'users.create': { summary: 'Create a user (admin); the answer holds its API key, shown only here', tag: 'users', body: CreateUserBody, answers: { 201: json(CreatedUser) }, errors: [403, 409] },
  'users.list': { summary: 'List users (admin), by email', tag: 'users', query: PageQuery, answers: { 200: json(UserPage) }, errors: [403] },
  'users.me': { summary: 'The caller', tag: 'users', answers: { 200: json(User) } },
  'users.me.rotateKey': { summary: 'Rotate the caller’s own API key; the old one stops at once', tag: 'users', answers: { 201: json(ApiKey) } },
  'users.rotateKey': { summary: 'Issue or rotate a user’s API key (admin); the old one stops at once', tag: 'users', answers: { 201: json(ApiKey) }, errors: [403, 404] },

  'apps.create': { summary: 'Create an app; the caller becomes its Owner', tag: 'apps', body: CreateAppBody, answers: { 201: json(App) }, errors: [409] },
  'apps.list': { summary: 'The apps the caller contributes to (admins: all), by name', tag: 'apps', query: PageQuery, answers: { 200: json(AppPage) } },
  'apps.get': { summary: 'An app', tag: 'apps', answers: { 200: json(App) }, errors: [403, 404] },
  'apps.update': { summary: 'Change an app’s label or description (Owner, Developer)', tag: 'apps', body: UpdateAppBody, answers: { 200: json(App) }, errors: [403, 404, 409] },
  'apps.delete': { summary: 'Delete an app (Owner); its name becomes free, its events and backups are kept', tag: 'apps', answers: { 204: empty }, errors: [403, 404, 409] },
  'apps.contributors.add': { summary: 'Give a user a role on the app (Owner)', tag: 'apps', body: ContributorBody, answers: { 200: json(App) }, errors: [403, 404, 409] },
  'apps.contributors.remove': { summary: 'Take a user’s role away (Owner); the last Owner stays', tag: 'apps', answers: { 200: json(App) }, errors: [403, 404, 409] },
  'apps.history': { summary: 'The app’s history, in order, numbered from 1 (Owner, Developer)', tag: 'apps', query: HistoryQuery, answers: { 200: json(HistoryPage) }, errors: [403, 404] },

  'schemas.create': { summary: 'Create a schema', tag: 'schemas', body: CreateSchemaBody, answers: { 201: json(Schema) }, errors: [403, 404, 409] },
  'schemas.list': { summary: 'The app’s schemas, by name', tag: 'schemas', query: PageQuery, answers: { 200: json(SchemaPage) }, errors: [403, 404] },
  'schemas.get': { summary: 'A schema', tag: 'schemas', answers: { 200: json(Schema) }, errors: [403, 404] },
  'schemas.addField': { summary: 'Add a field to a schema', tag: 'schemas', body: FieldBody, answers: { 200: json(Schema) }, errors: [403, 404, 409] },
  'schemas.delete': { summary: 'Delete a schema and, from every read, its contents', tag: 'schemas', answers: { 204: empty }, errors: [403, 404] },

  'contents.create': { summary: 'Create a content (`?publish=true` to publish at once)', tag: 'contents', query: ContentCreateQuery, body: ContentDataBody, answers: { 201: json(Content) }, errors: [403, 404] },
  'contents.list': { summary: 'Contents of a schema, newest first; `q` searches the data', tag: 'contents', query: ContentListQuery, answers: { 200: json(ContentPage) }, errors: [403, 404] },
  'contents.get': { summary: 'A content, with its version as ETag', tag: 'contents', answers: { 200: json(Content) }, errors: [403, 404] },
  'contents.update': { summary: 'Replace a content’s data; `If-Match: <version>` guards against lost updates', tag: 'contents', body: ContentDataBody, answers: { 200: json(Content) }, errors: [403, 404, 409] },
  'contents.setStatus': { summary: 'Set a content’s status', tag: 'contents', body: ContentStatusBody, answers: { 200: json(Content) }, errors: [403, 404, 409] },
  'contents.delete': { summary: 'Delete a content', tag: 'contents', answers: { 204: empty }, errors: [403, 404, 409] },

  'assets.create': { summary: 'Upload an asset (multipart field `file`)', tag: 'assets', multipart: AssetUploadForm, answers: { 201: json(Asset) }, errors: [400, 403, 404, 413] },
  'assets.list': { summary: 'The app’s assets', tag: 'assets', query: PageQuery, answers: { 200: json(AssetPage) }, errors: [403, 404] },
  'assets.get': { summary: 'An asset', tag: 'assets', answers: { 200: json(Asset) }, errors: [403, 404] },
  'assets.replaceFile': { summary: 'Replace an asset’s file (multipart); a new file version', tag: 'assets', multipart: AssetUploadForm, answers: { 200: json(Asset) }, errors: [400, 403, 404, 409, 413] },
  'assets.delete': { summary: 'Delete an asset', tag: 'assets', answers: { 204: empty }, errors: [403, 404] },
  'assets.file': {
    summary: 'An asset’s bytes (`?version=N` for an older file version)',
    tag: 'assets',
    query: AssetContentQuery,
    answers: { 200: { kind: 'file', mediaType: 'application/octet-stream' } },
    errors: [403, 404, 410],
  },

  'appBackups.create': { summary: 'Start a backup of the app; it runs in the background', tag: 'backups', body: CreateBackupBody, answers: { 202: json(Backup) }, errors: [403, 404, 409] },
  'appBackups.list': { summary: 'The app’s backups, newest first', tag: 'backups', query: PageQuery, answers: { 200: json(BackupPage) }, errors: [403, 404] },
  'appBackups.get': { summary: 'A backup of the app', tag: 'backups', answers: { 200: json(Backup) }, errors: [403, 404] },
  'appBackups.events': { summary: 'A backup’s progress as server-sent events, until it ends', tag: 'backups', answers: { 200: events(Backup) }, errors: [403, 404] },
  'appBackups.archive': { summary: 'Download a completed backup', tag: 'backups', answers: archive, errors: ARCHIVE_ERRORS },
  'appBackups.delete': { summary: 'Delete a backup, every copy of it, and end its links; 409 when a copy is locked (nothing is deleted)', tag: 'backups', answers: deleted, errors: [403, 404, 409] },
  'appBackups.verify': { summary: 'Check every copy of a backup again (`readData`: read and hash each whole)', tag: 'backups', body: VerifyBackupBody, answers: { 200: json(Backup) }, errors: [403, 404, 409] },
  'appBackups.diff': {
    summary: 'What differs from this backup to another backup of the app or the live app (`against`): per kind, what was added, removed and changed, a page at a time',
    tag: 'backups',
    query: DiffQuery,
    answers: { 200: json(BackupDiff), 202: json(DiffComputing) },
    errors: [403, 404, 409, 410],
  },
  'appBackups.diff.keyed': {
    summary: 'The same diff, with the key (`identity` or `passphrase`) that opens an encrypted backup in the body; used for this request only',
    tag: 'backups',
    body: DiffBody,
    answers: { 200: json(BackupDiff), 202: json(DiffComputing) },
    errors: [403, 404, 409, 410],
  },
  'appBackups.links.create': { summary: 'Make a download link for a completed backup', tag: 'links', body: CreateLinkBody, answers: { 201: json(NewLink) }, errors: [403, 404, 409] },
  'appBackups.links.list': { summary: 'A backup’s links, newest first (without their URLs)', tag: 'links', query: PageQuery, answers: { 200: json(LinkPage) }, errors: [403, 404] },
  'appBackups.links.revoke': { summary: 'Revoke a link', tag: 'links', answers: { 204: empty }, errors: [403, 404] },

  'backupPolicy.put': { summary: 'Set the app’s backup schedule and retention (Owner, Developer)', tag: 'backups', body: BackupPolicyBody, answers: { 200: json(BackupPolicy) }, errors: [400, 403, 404] },
  'backupPolicy.get': { summary: 'The app’s backup policy, with its next and last run', tag: 'backups', answers: { 200: json(BackupPolicy) }, errors: [403, 404] },
  'backupPolicy.delete': { summary: 'Remove the app’s backup policy; its backups are kept', tag: 'backups', answers: { 204: empty }, errors: [403, 404] },

  'rollbacks.start': {
    summary: 'Bring the app back to one of its backups or a point of its history, in place, by appending events (Owner); a safety backup is taken first',
    tag: 'rollback',
    body: RollbackBody,
    answers: { 202: json(Rollback), 200: json(RollbackPreflight, 'With `dryRun: true`: per kind, what would be created, changed and deleted; nothing written') },
    errors: [400, 403, 404, 409],
  },
  'rollbacks.list': { summary: 'The app’s rollbacks, newest first (Owner)', tag: 'rollback', query: PageQuery, answers: { 200: json(RollbackPage) }, errors: [403, 404] },
  'rollbacks.get': { summary: 'A rollback with its log (Owner)', tag: 'rollback', answers: { 200: json(Rollback) }, errors: [403, 404] },
  'rollbacks.events': { summary: 'A rollback’s progress as server-sent events (Owner)', tag: 'rollback', answers: { 200: events(Rollback) }, errors: [403, 404] },

  'backups.list': { summary: 'Every backup of every app, newest first (admin)', tag: 'backups', query: PageQuery, answers: { 200: json(BackupPage) }, errors: [403] },
  'backups.get': { summary: 'A backup by id (admin), also of a deleted app', tag: 'backups', answers: { 200: json(Backup) }, errors: [403, 404] },
  'backups.events': { summary: 'A backup’s progress as server-sent events (admin)', tag: 'backups', answers: { 200: events(Backup) }, errors: [403, 404] },
  'backups.archive': { summary: 'Download a completed backup by id (admin)', tag: 'backups', answers: archive, errors: ARCHIVE_ERRORS },
  'backups.delete': { summary: 'Delete a backup and every copy of it by id (admin); 409 when a copy is locked (nothing is deleted)', tag: 'backups', answers: deleted, errors: [403, 404, 409] },
  'backups.verify': { summary: 'Check every copy of a backup again by id (admin; `readData`: read and hash each whole)', tag: 'backups', body: VerifyBackupBody, answers: { 200: json(Backup) }, errors: [403, 404, 409] },
  'backups.links.create': { summary: 'Make a download link (admin)', tag: 'links', body: CreateLinkBody, answers: { 201: json(NewLink) }, errors: [403, 404, 409] },
  'backups.links.list': { summary: 'A backup’s links (admin)', tag: 'links', query: PageQuery, answers: { 200: json(LinkPage) }, errors: [403, 404] },
  'backups.links.revoke': { summary: 'Revoke a link (admin)', tag: 'links', answers: { 204: empty }, errors: [403, 404] },
  'links.archive': {
    summary: 'Download through a link: no key, the signature in the query is the permission',
    tag: 'links',
   
    query: LinkQuery,
    answers: {
      ...archive,
      302: {
        kind: 'empty',
        description:
          'With LINK_PRESIGNED_REDIRECTS=true and a copy of the archive in a repository that presigns (S3): a redirect (`Location`) to a presigned URL of that copy, valid for LINK_PRESIGNED_TTL_SECONDS at most and never past the link’s expiry',
      },
    },
    errors: [403, 404, 410, 416, 503],
  },

  'restores.start': {
    summary: 'Restore an app under a new id (admin): JSON `{ url | backupId | repository + key, name?, untilEvent? | until? }` or multipart with `file`',
    tag: 'restore',
    body: RestoreBody,
    query: RestoreQuery,
    multipart: RestoreUploadForm,
    answers: {
      202: json(Restore),
      200: json(RestorePreflight, 'With `dryRun: true` (multipart: field `dryRun=true`, or `?dryRun=true`): what the restore would do, every check run, nothing written'),
    },
    errors: [403, 404, 409, 413, 503],
  },
  'restores.list': { summary: 'Restores, newest first (admin)', tag: 'restore', query: PageQuery, answers: { 200: json(RestorePage) }, errors: [403] },
  'restores.get': { summary: 'A restore with its log (admin)', tag: 'restore', answers: { 200: json(Restore) }, errors: [403, 404] },
  'restores.events': { summary: 'A restore’s progress as server-sent events (admin)', tag: 'restore', answers: { 200: events(Restore) }, errors: [403, 404] },
  'restores.resume': {
    summary: 'Continue an Interrupted restore from its journal (admin); `identity` or `passphrase` only for an encrypted archive interrupted before it was decrypted',
    tag: 'restore',
    body: RestoreResumeBody,
    answers: { 202: json(Restore) },
    errors: [403, 404, 409, 503],
  },
  'restores.cancel': {
    summary: 'Cancel an Interrupted restore (admin): its app’s events, read models and files, the users it created, its name reservation and its archive are removed; it ends Failed',
    tag: 'restore',
    answers: { 200: json(Restore) },
    errors: [403, 404, 409],
  },

  'recipients.list': { summary: 'The installation’s recipients (admin): public keys any app’s backups and policies may name', tag: 'encryption', answers: { 200: json(RecipientList) }, errors: [403] },
  'recipients.create': { summary: 'Add a recipient for every app (admin): a name and an age X25519 public key', tag: 'encryption', body: RecipientBody, answers: { 201: json(Recipient) }, errors: [403, 409] },
  'recipients.delete': { summary: 'Remove an installation recipient (admin); backups already encrypted to it stay so', tag: 'encryption', answers: { 204: empty }, errors: [403, 404] },
  'appRecipients.list': { summary: 'The recipients the app’s backups may name: the app’s own, then the installation’s', tag: 'encryption', answers: { 200: json(RecipientList) }, errors: [403, 404] },
  'appRecipients.create': { summary: 'Add a recipient for this app (Owner)', tag: 'encryption', body: RecipientBody, answers: { 201: json(Recipient) }, errors: [403, 404, 409] },
  'appRecipients.delete': { summary: 'Remove one of the app’s recipients (Owner)', tag: 'encryption', answers: { 204: empty }, errors: [403, 404] },
  'installation.recipient': {
    summary: 'This installation’s own public key (admin): a source installation encrypts a backup to it, and restores here open it without a key in the request',
    tag: 'encryption',
    answers: { 200: json(InstallationRecipient) },
    errors: [403],
  },

  'repositories.create': {
    summary: 'Add a backup repository (admin): a folder or an S3 bucket; credentials sent are stored apart and never answered',
    tag: 'repositories',
    body: CreateRepositoryBody,
    answers: { 201: json(Repository) },
    errors: [403, 409],
  },
  'repositories.list': { summary: 'The repositories (admin), `local` first, then by name', tag: 'repositories', answers: { 200: json(RepositoryList) }, errors: [403] },
  'repositories.get': { summary: 'A repository by id or name (admin)', tag: 'repositories', answers: { 200: json(Repository) }, errors: [403, 404] },
  'repositories.update': {
    summary: 'Change a repository (admin); not `local`, not its name or type; S3 credentials left out are kept',
    tag: 'repositories',
    body: UpdateRepositoryBody,
    answers: { 200: json(Repository) },
    errors: [403, 404, 409],
  },
  'repositories.delete': { summary: 'Remove a repository (admin); refused while a backup policy or a backup’s copy names it. Its contents stay', tag: 'repositories', answers: { 204: empty }, errors: [403, 404, 409] },
  'repositories.check': {
    summary: 'Probe a repository (admin): write, read and delete a small object, and say what failed in words',
    tag: 'repositories',
    answers: { 200: json(RepositoryCheck) },
    errors: [403, 404],
  },
  'repositories.backups': {
    summary: 'The backups a repository holds (admin), also those another installation wrote; an unreadable manifest is an entry with its error',
    tag: 'repositories',
    answers: { 200: json(RepositoryBackupList) },
    errors: [403, 404, 503],
  },
} as const satisfies Record<RouteName, Operation>;

export type Operations = typeof API_OPERATIONS;

/**
 * The error statuses of a route: those it names, 401 on any keyed route, 400 on any that reads a
 * body or a query, and 413 on any that takes a body (a JSON body over 5 MB; on EventStoreDB, a
 * change over what one append takes).
 */
export function errorsOf(route: RouteName): number[] {
  const operation: Operation = API_OPERATIONS[route];
  const errors = new Set<number>(operation.errors ?? []);
  if (API_ROUTES[route].audience !== 'public') errors.add(401);
  if (operation.body || operation.query || operation.multipart) errors.add(400);
  if (operation.body || operation.multipart) errors.add(413);
  return [...errors].sort();
}

const NOT_MODIFIED: EmptyAnswer = { kind: 'empty', description: 'Not modified: the answer’s `ETag` matched `If-None-Match` (a browser’s cache asks so)' };

/**
 * A route's answers, with the one HTTP adds to every read of JSON: Express gives such answers an
 * ETag and answers 304 to a request whose `If-None-Match` holds it.
 */
export function answersOf(route: RouteName): Partial<Record<number, Answer>> {
  const answers: Partial<Record<number, Answer>> = API_OPERATIONS[route].answers;
  const readsJson = API_ROUTES[route].method === 'GET' && answers[200]?.kind === 'json';
  return readsJson && !answers[304] ? { ...answers, 304: NOT_MODIFIED } : answers;
}
