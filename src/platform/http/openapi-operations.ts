/**
 * What the OpenAPI document says beyond the request schemas: each operation's answer, errors and
 * audience, by `METHOD /path` as the document spells paths, and the JSON Schemas of the answers.
 * A test fails when a route has no entry here, and when a real answer does not match its schema.
 */
type JsonSchema = Record<string, unknown>;

export interface OperationDoc {
  summary: string;
  tag?: string;
  status: number;
  description?: string;
  /** A component name, or a schema; absent for answers without a body (204, 304). */
  schema?: string | JsonSchema;
  contentType?: string;
  errors?: number[];
  public?: boolean;
  /** Query parameters a route reads by hand (not through a schema). */
  query?: Record<string, { description: string; schema: JsonSchema }>;
  /** Multipart bodies, which are streamed by hand rather than validated as a whole. */
  multipart?: JsonSchema;
  /** Another success answer of the same operation (a dry run's report). */
  also?: { status: number; description: string; schema: string };
}

const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;
const time = { type: 'string', format: 'date-time' } as const;
const nullable = (schema: JsonSchema) => ({ oneOf: [schema, { type: 'null' }] });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const object = (properties: Record<string, JsonSchema>, optional: string[] = []) => ({
  type: 'object',
  required: Object.keys(properties).filter((key) => !optional.includes(key)),
  properties,
});
const page = (item: string) => object({ total: int, items: { type: 'array', items: ref(item) } });

const progress = {
  phase: str,
  progress: object({ done: int, total: int, unit: { const: 'events' } }),
  percent: { type: 'number', minimum: 0, maximum: 100 },
  etaSeconds: nullable(int),
};
const status = { enum: ['Scheduled', 'Running', 'Completed', 'Failed'] };
const strings = { type: 'array', items: str } as const;
/** A partial backup's selection as stored and served; null for the whole app. */
const selection = nullable(
  object({ schemas: nullable(strings), contents: nullable(strings), assets: { enum: ['all', 'referenced', 'none'] } }),
);

export const API_COMPONENTS: Record<string, JsonSchema> = {
  Error: object({ statusCode: int, error: str, message: str }),
  Health: object({ status: { enum: ['ok', 'starting', 'failed'] }, eventStore: { enum: ['sqlite', 'eventstoredb'] }, readStore: { enum: ['sqlite', 'mongodb'] }, projectionLag: int }, ['projectionLag']),
  User: object({ id: str, email: str, displayName: str, admin: { type: 'boolean' } }),
  CreatedUser: { allOf: [ref('User'), object({ apiKey: str }, ['apiKey'])] },
  ApiKey: object({ apiKey: { type: 'string', pattern: '^av_' } }),
  App: object({
    id: str,
    name: str,
    label: str,
    description: str,
    version: int,
    created: time,
    createdBy: str,
    lastModified: time,
    lastModifiedBy: str,
    contributors: { type: 'array', items: object({ userId: str, email: str, role: { enum: ['Owner', 'Developer', 'Editor', 'Reader'] } }) },
  }),
  Schema: object({
    id: str,
    name: str,
    fields: { type: 'array', items: object({ name: str, type: { enum: ['String', 'Number', 'Boolean', 'DateTime', 'Json', 'Assets', 'References'] }, required: { type: 'boolean' } }) },
    version: int,
    created: time,
    lastModified: time,
  }),
  Content: object({ id: str, schema: str, data: { type: 'object' }, status: { enum: ['Draft', 'Published', 'Archived'] }, version: int, created: time, createdBy: str, lastModified: time, lastModifiedBy: str }),
  Asset: object({ id: str, fileName: str, mimeType: str, fileSize: int, sha256: str, fileVersion: int, version: int, created: time, createdBy: str, lastModified: time }),
  EventPage: object(
    {
      items: { type: 'array', items: object({ number: int, stream: str, type: str, data: { type: 'object' }, actor: str, timestamp: time }) },
      next: { type: 'string', description: 'Pass as `cursor` for the next page; absent on the last page' },
    },
    ['next'],
  ),
  Backup: object({
    id: str,
    appId: str,
    appName: str,
    label: str,
    trigger: { enum: ['manual', 'scheduled', 'safety'], description: 'Who started it: a person, the app’s backup policy, or a rollback (its safety backup)' },
    include: { ...selection, description: 'What a partial backup holds; null for the whole app' },
    partial: { type: 'boolean' },
    status,
    created: time,
    started: nullable(time),
    completed: nullable(time),
    eventCount: int,
    assetCount: int,
    userCount: int,
    sizeBytes: int,
    sha256: nullable(str),
    error: nullable(str),
    warnings: { type: 'array', items: str },
    ...progress,
  }),
  Restore: object({
    id: str,
    status,
    source: str,
    name: nullable(str),
    appId: nullable(str),
    created: time,
    started: nullable(time),
    completed: nullable(time),
    eventCount: int,
    include: { ...selection, description: 'The selection of a partial archive, once the archive is checked; null for a whole app' },
    partial: { type: 'boolean' },
    restoredEvents: int,
    restoredAssets: int,
    log: { type: 'array', items: object({ at: time, message: str }) },
    error: nullable(str),
    ...progress,
  }),
  RestorePreflight: object({
    dryRun: { const: true },
    valid: { type: 'boolean' },
    error: nullable(str),
    source: str,
    sizeBytes: nullable(int),
    name: nullable(object({ value: str, available: { type: 'boolean' }, reason: nullable(str) })),
    app: nullable(object({ id: str, name: str })),
    archive: nullable(object({ created: time, formatVersion: int, firstEventAt: nullable(time), lastEventAt: nullable(time) })),
    events: nullable(object({ inArchive: int, toRestore: int })),
    files: nullable(int),
    users: nullable(object({ mapped: { type: 'array', items: str }, created: { type: 'array', items: str } })),
    counts: nullable({ type: 'object' }),
    partial: nullable({ type: 'boolean' }),
    include: selection,
    notes: { type: 'array', items: str, description: 'What the restore would log about the events, such as dangling references' },
    missing: { type: 'array', items: object({ name: str, reason: str }) },
    warnings: { type: 'array', items: str },
  }),
  BackupPolicy: object({
    appId: str,
    appName: str,
    schedule: { type: 'string', description: 'Cron, UTC: 5 fields, or 6 with seconds first' },
    include: { ...selection, description: 'What each scheduled backup holds; null for the whole app' },
    keepLast: nullable({ type: 'integer', minimum: 1, maximum: 1000 }),
    keepDaily: nullable({ type: 'integer', minimum: 1, maximum: 1000 }),
    keepWeekly: nullable({ type: 'integer', minimum: 1, maximum: 1000 }),
    keepMonthly: nullable({ type: 'integer', minimum: 1, maximum: 1000 }),
    nextRun: time,
    lastRun: nullable(time),
    lastBackupId: nullable(str),
    lastError: nullable(str),
    created: time,
    updated: time,
  }),
  RollbackPreflight: object({
    dryRun: { const: true },
    app: object({ id: str, name: str }),
    target: ref('RollbackTarget'),
    changes: ref('RollbackChanges'),
    counts: ref('ChangeCounts'),
    events: { type: 'integer', description: 'How many events the rollback would append (its marker included)' },
  }),
  RollbackTarget: object({ backupId: nullable(str), untilEvent: nullable(int), until: nullable(time), position: int, event: { type: 'integer', description: 'The number of the app’s last event the state is taken at' } }),
  RollbackChanges: object(
    Object.fromEntries(['schemas', 'contents', 'assets'].map((kind) => [kind, object({ created: strings, changed: strings, deleted: strings })])),
  ),
  ChangeCounts: object({ created: int, changed: int, deleted: int }),
  Rollback: object({
    id: str,
    appId: str,
    appName: str,
    status,
    target: ref('RollbackTarget'),
    safetyBackupId: nullable(str),
    changes: nullable(ref('RollbackChanges')),
    counts: nullable(ref('ChangeCounts')),
    appendedEvents: int,
    created: time,
    started: nullable(time),
    completed: nullable(time),
    error: nullable(str),
    log: { type: 'array', items: object({ at: time, message: str }) },
    partial: nullable(
      object({
        writtenStreams: int,
        written: strings,
        failedStream: str,
        uncertain: { type: 'boolean' },
        remainingStreams: int,
        appEvents: int,
        uncertainEvents: int,
        recovery: nullable({ enum: ['finished', 'app-changed'] }),
      }),
    ),
    ...progress,
  }),
  RollbackPage: page('Rollback'),
  NewLink: object({ id: str, url: { type: 'string', format: 'uri' }, expires: time }),
  Link: object({ id: str, backupId: str, appId: str, created: time, createdBy: str, expires: time, revoked: nullable(time), state: { enum: ['active', 'expired', 'revoked'] } }),
  UserPage: page('User'),
  AppPage: page('App'),
  SchemaPage: page('Schema'),
  ContentPage: page('Content'),
  AssetPage: page('Asset'),
  BackupPage: page('Backup'),
  RestorePage: page('Restore'),
  LinkPage: page('Link'),
};

const zip = { type: 'string', contentMediaType: 'application/zip' };
const stream = { type: 'string', description: 'Server-sent events: `event: job` with the job (as its GET serves it) at each change, then `event: end` with `{ status }`' };
const bytes = { type: 'string', contentMediaType: 'application/octet-stream' };
const fileField = { type: 'string', contentMediaType: 'application/octet-stream', description: 'The file, streamed' };
const upload = object({ file: fileField });
const archive = (summary: string, tag: string, extra: Partial<OperationDoc> = {}): OperationDoc => ({
  summary,
  tag,
  status: 200,
  description: 'The archive, streamed, with `ETag`, `Repr-Digest` and `Accept-Ranges: bytes`; a `Range` request answers 206 with that part',
  schema: zip,
  contentType: 'application/zip',
  errors: [403, 404, 409, 416],
  ...extra,
});
const events = (summary: string, tag: string): OperationDoc => ({ summary, tag, status: 200, schema: stream, contentType: 'text/event-stream', errors: [403, 404] });

export const OPERATIONS: Record<string, OperationDoc> = {
  'GET /health': { summary: 'Health, with the stores in use and the projection lag', tag: 'health', status: 200, schema: 'Health', public: true },
  'GET /health/live': { summary: 'Liveness probe: 200 while the process runs', tag: 'health', status: 200, schema: object({ status: str }), public: true },
  'GET /health/ready': { summary: 'Readiness probe: 200 once caught up and both stores answer, else 503', tag: 'health', status: 200, schema: object({ status: str }), public: true, errors: [503] },

  'POST /api/users': { summary: 'Create a user (admin); the answer holds its API key, shown only here', tag: 'users', status: 201, schema: 'CreatedUser', errors: [403, 409] },
  'GET /api/users': { summary: 'List users (admin), by email', tag: 'users', status: 200, schema: 'UserPage', errors: [403] },
  'GET /api/users/me': { summary: 'The caller', tag: 'users', status: 200, schema: 'User' },
  'POST /api/users/me/api-key': { summary: 'Rotate the caller’s own API key; the old one stops at once', tag: 'users', status: 201, schema: 'ApiKey' },
  'POST /api/users/{id}/api-key': { summary: 'Issue or rotate a user’s API key (admin); the old one stops at once', tag: 'users', status: 201, schema: 'ApiKey', errors: [403, 404] },

  'POST /api/apps': { summary: 'Create an app; the caller becomes its Owner', tag: 'apps', status: 201, schema: 'App', errors: [409] },
  'GET /api/apps': { summary: 'The apps the caller contributes to (admins: all), by name', tag: 'apps', status: 200, schema: 'AppPage' },
  'GET /api/apps/{app}': { summary: 'An app', tag: 'apps', status: 200, schema: 'App', errors: [403, 404] },
  'PUT /api/apps/{app}': { summary: 'Change an app’s label or description (Owner, Developer)', tag: 'apps', status: 200, schema: 'App', errors: [403, 404, 409] },
  'DELETE /api/apps/{app}': { summary: 'Delete an app (Owner); its name becomes free, its events and backups are kept', tag: 'apps', status: 204, errors: [403, 404, 409] },
  'POST /api/apps/{app}/contributors': { summary: 'Give a user a role on the app (Owner)', tag: 'apps', status: 200, schema: 'App', errors: [403, 404, 409] },
  'DELETE /api/apps/{app}/contributors/{userId}': { summary: 'Take a user’s role away (Owner); the last Owner stays', tag: 'apps', status: 200, schema: 'App', errors: [403, 404, 409] },
  'GET /api/apps/{app}/events': { summary: 'The app’s history, in order, numbered from 1 (Owner, Developer)', tag: 'apps', status: 200, schema: 'EventPage', errors: [403, 404] },

  'POST /api/apps/{app}/schemas': { summary: 'Create a schema', tag: 'schemas', status: 201, schema: 'Schema', errors: [403, 404, 409] },
  'GET /api/apps/{app}/schemas': { summary: 'The app’s schemas, by name', tag: 'schemas', status: 200, schema: 'SchemaPage', errors: [403, 404] },
  'GET /api/apps/{app}/schemas/{schema}': { summary: 'A schema', tag: 'schemas', status: 200, schema: 'Schema', errors: [403, 404] },
  'POST /api/apps/{app}/schemas/{schema}/fields': { summary: 'Add a field to a schema', tag: 'schemas', status: 200, schema: 'Schema', errors: [403, 404, 409] },
  'DELETE /api/apps/{app}/schemas/{schema}': { summary: 'Delete a schema and, from every read, its contents', tag: 'schemas', status: 204, errors: [403, 404] },

  'POST /api/apps/{app}/content/{schema}': { summary: 'Create a content (`?publish=true` to publish at once)', tag: 'contents', status: 201, schema: 'Content', errors: [403, 404] },
  'GET /api/apps/{app}/content/{schema}': { summary: 'Contents of a schema, newest first; `q` searches the data', tag: 'contents', status: 200, schema: 'ContentPage', errors: [403, 404] },
  'GET /api/apps/{app}/content/{schema}/{id}': { summary: 'A content, with its version as ETag', tag: 'contents', status: 200, schema: 'Content', errors: [403, 404] },
  'PUT /api/apps/{app}/content/{schema}/{id}': { summary: 'Replace a content’s data; `If-Match: <version>` guards against lost updates', tag: 'contents', status: 200, schema: 'Content', errors: [403, 404, 409] },
  'PUT /api/apps/{app}/content/{schema}/{id}/status': { summary: 'Set a content’s status', tag: 'contents', status: 200, schema: 'Content', errors: [403, 404, 409] },
  'DELETE /api/apps/{app}/content/{schema}/{id}': { summary: 'Delete a content', tag: 'contents', status: 204, errors: [403, 404, 409] },

  'POST /api/apps/{app}/assets': { summary: 'Upload an asset (multipart field `file`)', tag: 'assets', status: 201, schema: 'Asset', errors: [400, 403, 404, 413], multipart: upload },
  'GET /api/apps/{app}/assets': { summary: 'The app’s assets', tag: 'assets', status: 200, schema: 'AssetPage', errors: [403, 404] },
  'GET /api/apps/{app}/assets/{id}': { summary: 'An asset', tag: 'assets', status: 200, schema: 'Asset', errors: [403, 404] },
  'PUT /api/apps/{app}/assets/{id}/content': { summary: 'Replace an asset’s file (multipart); a new file version', tag: 'assets', status: 200, schema: 'Asset', errors: [400, 403, 404, 409, 413], multipart: upload },
  'DELETE /api/apps/{app}/assets/{id}': { summary: 'Delete an asset', tag: 'assets', status: 204, errors: [403, 404] },
  'GET /api/apps/{app}/assets/{id}/content': { summary: 'An asset’s bytes (`?version=N` for an older file version)', tag: 'assets', status: 200, schema: bytes, contentType: 'application/octet-stream', errors: [403, 404, 410] },

  'POST /api/apps/{app}/backups': { summary: 'Start a backup of the app; it runs in the background', tag: 'backups', status: 202, schema: 'Backup', errors: [403, 404, 409] },
  'GET /api/apps/{app}/backups': { summary: 'The app’s backups, newest first', tag: 'backups', status: 200, schema: 'BackupPage', errors: [403, 404] },
  'GET /api/apps/{app}/backups/{id}': { summary: 'A backup of the app', tag: 'backups', status: 200, schema: 'Backup', errors: [403, 404] },
  'GET /api/apps/{app}/backups/{id}/events': events('A backup’s progress as server-sent events, until it ends', 'backups'),
  'GET /api/apps/{app}/backups/{id}/archive': archive('Download a completed backup', 'backups'),
  'DELETE /api/apps/{app}/backups/{id}': { summary: 'Delete a backup and end its links', tag: 'backups', status: 204, errors: [403, 404, 409] },
  'PUT /api/apps/{app}/backup-policy': { summary: 'Set the app’s backup schedule and retention (Owner, Developer)', tag: 'backups', status: 200, schema: 'BackupPolicy', errors: [400, 403, 404] },
  'GET /api/apps/{app}/backup-policy': { summary: 'The app’s backup policy, with its next and last run', tag: 'backups', status: 200, schema: 'BackupPolicy', errors: [403, 404] },
  'DELETE /api/apps/{app}/backup-policy': { summary: 'Remove the app’s backup policy; its backups are kept', tag: 'backups', status: 204, errors: [403, 404] },
  'POST /api/apps/{app}/rollback': {
    summary: 'Bring the app back to one of its backups or a point of its history, in place, by appending events (Owner); a safety backup is taken first',
    tag: 'rollback',
    status: 202,
    schema: 'Rollback',
    errors: [400, 403, 404, 409],
    also: { status: 200, description: 'With `dryRun: true`: per kind, what would be created, changed and deleted; nothing written', schema: 'RollbackPreflight' },
  },
  'GET /api/apps/{app}/rollbacks': { summary: 'The app’s rollbacks, newest first (Owner)', tag: 'rollback', status: 200, schema: 'RollbackPage', errors: [403, 404] },
  'GET /api/apps/{app}/rollbacks/{id}': { summary: 'A rollback with its log (Owner)', tag: 'rollback', status: 200, schema: 'Rollback', errors: [403, 404] },
  'GET /api/apps/{app}/rollbacks/{id}/events': events('A rollback’s progress as server-sent events (Owner)', 'rollback'),
  'POST /api/apps/{app}/backups/{id}/links': { summary: 'Make a download link for a completed backup', tag: 'links', status: 201, schema: 'NewLink', errors: [403, 404, 409] },
  'GET /api/apps/{app}/backups/{id}/links': { summary: 'A backup’s links, newest first (without their URLs)', tag: 'links', status: 200, schema: 'LinkPage', errors: [403, 404] },
  'DELETE /api/apps/{app}/backups/{id}/links/{linkId}': { summary: 'Revoke a link', tag: 'links', status: 204, errors: [403, 404] },

  'GET /api/backups': { summary: 'Every backup of every app, newest first (admin)', tag: 'backups', status: 200, schema: 'BackupPage', errors: [403] },
  'GET /api/backups/{id}': { summary: 'A backup by id (admin), also of a deleted app', tag: 'backups', status: 200, schema: 'Backup', errors: [403, 404] },
  'GET /api/backups/{id}/events': events('A backup’s progress as server-sent events (admin)', 'backups'),
  'GET /api/backups/{id}/archive': archive('Download a completed backup by id (admin)', 'backups'),
  'DELETE /api/backups/{id}': { summary: 'Delete a backup by id (admin)', tag: 'backups', status: 204, errors: [403, 404, 409] },
  'POST /api/backups/{id}/links': { summary: 'Make a download link (admin)', tag: 'links', status: 201, schema: 'NewLink', errors: [403, 404, 409] },
  'GET /api/backups/{id}/links': { summary: 'A backup’s links (admin)', tag: 'links', status: 200, schema: 'LinkPage', errors: [403, 404] },
  'DELETE /api/backups/{id}/links/{linkId}': { summary: 'Revoke a link (admin)', tag: 'links', status: 204, errors: [403, 404] },
  'GET /api/links/{linkId}/archive': archive('Download through a link: no key, the signature in the query is the permission', 'links', {
    public: true,
    errors: [403, 410, 416],
    query: {
      expires: { description: 'The expiry the link was signed with (Unix seconds)', schema: { type: 'string', pattern: '^\\d+$' } },
      signature: { description: 'HMAC-SHA256 of link id, backup id and expiry (base64url)', schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$' } },
    },
  }),

  'POST /api/restore': {
    summary: 'Restore an app under a new id (admin): JSON `{ url | backupId, name?, untilEvent? | until? }` or multipart with `file`',
    tag: 'restore',
    status: 202,
    schema: 'Restore',
    errors: [403, 404, 409, 413],
    also: { status: 200, description: 'With `dryRun: true` (multipart: field `dryRun=true`, or `?dryRun=true`): what the restore would do, every check run, nothing written', schema: 'RestorePreflight' },
    multipart: object({ file: fileField, name: str, untilEvent: { type: 'string', pattern: '^\\d+$' }, until: time }, ['name', 'untilEvent', 'until']),
  },
  'GET /api/restore': { summary: 'Restores, newest first (admin)', tag: 'restore', status: 200, schema: 'RestorePage', errors: [403] },
  'GET /api/restore/{id}': { summary: 'A restore with its log (admin)', tag: 'restore', status: 200, schema: 'Restore', errors: [403, 404] },
  'GET /api/restore/{id}/events': events('A restore’s progress as server-sent events (admin)', 'restore'),
};
