/**
 * The "mix" workload: an app's history as people make it, generated offline straight into the
 * embedded stores (events into SQLite, asset bytes into the blob store) so that a history of a
 * million events takes seconds rather than hours of HTTP.
 *
 * Per app: three contributors; four schemas using every field type (String, Number, Boolean,
 * DateTime, Json, Assets, References); then, event by event: about 1 in 3 creates a content, most
 * of the rest replace a content's whole data (usually one created recently, as editing happens,
 * sometimes any live one), change its status or delete it; about 1 in 20 uploads or replaces an
 * asset with real bytes (a few file versions each); now and then the app or a schema changes.
 * Every event follows the domain's rules (required fields, no edits of Archived content, a status
 * change changes the status), so a restore that validates events accepts them.
 *
 * Several apps can be grown at once, their histories interleaved in the store's global order as
 * an installation serving several apps would have them. A seeded generator makes runs repeatable.
 */
import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { EventStore, NewEvent, StreamWrite } from '../../src/infrastructure/event-store/event-store.port.js';
import { streams } from '../../src/infrastructure/event-store/event-store.port.js';
import type { BlobStore } from '../../src/infrastructure/blob-store/blob-store.port.js';
import { claims } from '../../src/infrastructure/name-index/name-index.port.js';
import { SqliteNameIndex } from '../../src/infrastructure/name-index/sqlite-name-index.adapter.js';

export interface GrownApp {
  id: string;
  name: string;
  events: number;
  contents: number;
  assetVersions: number;
  assetBytes: number;
  schemas: { id: string; name: string }[];
  contributors: { id: string; email: string }[];
}

export interface GrowOptions {
  /** Events per app. */
  events: number;
  /** Names of the apps to grow; their histories interleave. */
  apps: string[];
  seed?: number;
  /** `mix` (default) or `one-stream` (AppUpdated on the app's own stream only). */
  shape?: 'mix' | 'one-stream';
  /** Events appended per commit while growing. */
  batch?: number;
  /** Scales the asset bytes (1 = 2-40 KB per file version). */
  assetScale?: number;
}

/** A small, fast, seeded PRNG (mulberry32): the same seed grows the same history. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SYLLABLES = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'te', 'vo', 'zi', 'pa', 'do', 'fe', 'gu', 'hi', 'ja', 'ko', 'lu', 'ma', 'no', 'pe', 'qui', 'ro', 'si', 'tu', 'va', 'we', 'xa', 'yo', 'ze', 'bri', 'cla', 'dro'];

const SCHEMAS = [
  {
    name: 'articles',
    weight: 0.5,
    fields: [
      { name: 'title', type: 'String', required: true },
      { name: 'body', type: 'String', required: false },
      { name: 'published', type: 'DateTime', required: false },
      { name: 'rating', type: 'Number', required: false },
      { name: 'featured', type: 'Boolean', required: false },
      { name: 'meta', type: 'Json', required: false },
      { name: 'images', type: 'Assets', required: false },
      { name: 'related', type: 'References', required: false },
    ],
  },
  {
    name: 'products',
    weight: 0.3,
    fields: [
      { name: 'name', type: 'String', required: true },
      { name: 'description', type: 'String', required: false },
      { name: 'price', type: 'Number', required: true },
      { name: 'inStock', type: 'Boolean', required: false },
      { name: 'specs', type: 'Json', required: false },
      { name: 'photos', type: 'Assets', required: false },
    ],
  },
  {
    name: 'authors',
    weight: 0.15,
    fields: [
      { name: 'name', type: 'String', required: true },
      { name: 'bio', type: 'String', required: false },
      { name: 'born', type: 'DateTime', required: false },
    ],
  },
  { name: 'tags', weight: 0.05, fields: [{ name: 'label', type: 'String', required: true }] },
] as const;

type SchemaSpec = (typeof SCHEMAS)[number];
type Status = 'Draft' | 'Published' | 'Archived';

interface LiveContent {
  id: string;
  schema: number;
  status: Status;
}

interface AppState {
  id: string;
  name: string;
  rand: () => number;
  words: string[];
  contributors: { id: string; email: string }[];
  schemaIds: string[];
  versions: Map<string, number>;
  live: LiveContent[];
  recent: LiveContent[];
  assets: { id: string; versions: number }[];
  emitted: number;
  contents: number;
  assetVersions: number;
  assetBytes: number;
  clock: number;
  label: number;
}

/** Grows the apps in the store (and their asset bytes in the blob store). */
export async function growApps(store: EventStore, blobs: BlobStore, options: GrowOptions): Promise<GrownApp[]> {
  return (await growAppsInSteps(store, blobs, options)).apps;
}

/** Apps grown to `options.events` events each, and a way to grow them further as more use would. */
export interface GrowingApps {
  apps: GrownApp[];
  /**
   * Adds `events` more events to each app, going on from where the workload stopped (the same
   * kinds of events, new file versions among them); into `target` when given (the same data folder
   * opened anew). Answers the apps as they then are.
   */
  more(events: number, target?: { store: EventStore; blobs: BlobStore }): Promise<GrownApp[]>;
}

/** growApps, keeping the workload's state so that `more` can go on growing the same apps. */
export async function growAppsInSteps(store: EventStore, blobs: BlobStore, options: GrowOptions): Promise<GrowingApps> {
  const seed = options.seed ?? 42;
  const batchSize = options.batch ?? 2000;
  const scale = options.assetScale ?? 1;
  const apps: AppState[] = options.apps.map((name, i) => {
    const rand = random(seed + i * 7919);
    return {
      id: randomUUID(),
      name,
      rand,
      words: vocabulary(rand, 3000),
      contributors: [0, 1, 2].map((n) => ({ id: randomUUID(), email: `${name}-person-${n}@example.com` })),
      schemaIds: SCHEMAS.map(() => randomUUID()),
      versions: new Map(),
      live: [],
      recent: [],
      assets: [],
      emitted: 0,
      contents: 0,
      assetVersions: 0,
      assetBytes: 0,
      clock: Date.UTC(2024, 0, 1),
      label: 0,
    };
  });

  // Users are global: their own streams, before any app names them.
  const userWrites: StreamWrite[] = apps.flatMap((app) =>
    app.contributors.map((user, n) => ({
      stream: streams.user(user.id),
      expectedVersion: -1,
      events: [{ type: 'UserCreated', data: { userId: user.id, email: user.email, displayName: `Person ${n} of ${app.name}`, admin: false }, metadata: { actor: 'system', timestamp: new Date(Date.UTC(2023, 11, 31)).toISOString(), schemaVersion: 1 } }],
    })),
  );
  await store.appendMany(userWrites);

  const pendingBlobs: Promise<unknown>[] = [];
  const storeBlob = (app: AppState, assetId: string, fileVersion: number, bytes: Buffer) => {
    app.assetBytes += bytes.length;
    app.assetVersions += 1;
    pendingBlobs.push(blobs.put(`assets/${app.id}/${assetId}/${fileVersion}`, Readable.from([bytes])));
  };

  let writes: StreamWrite[] = [];
  let pending = 0;
  const flush = async () => {
    if (pending === 0) return;
    await Promise.all(pendingBlobs.splice(0));
    await store.appendMany(writes);
    writes = [];
    pending = 0;
  };
  const emit = (app: AppState, stream: string, type: string, data: Record<string, unknown>, actor?: string) => {
    const version = app.versions.get(stream) ?? -1;
    app.versions.set(stream, version + 1);
    app.clock += 1000 + Math.floor(app.rand() * 60_000);
    const event: NewEvent = {
      type,
      data,
      metadata: { appId: app.id, actor: actor ?? pick(app.rand, app.contributors).id, timestamp: new Date(app.clock).toISOString(), schemaVersion: 1 },
    };
    const last = writes.at(-1);
    if (last?.stream === stream) last.events.push(event);
    else writes.push({ stream, expectedVersion: version, events: [event] });
    app.emitted += 1;
    pending += 1;
  };

  for (const app of apps) prelude(app, emit, options.shape ?? 'mix');
  await flush();
  // Interleave: each app in turn contributes a run of events, as concurrent use would.
  const run = 500;
  const growTo = async (events: number) => {
    while (apps.some((app) => app.emitted < events)) {
      for (const app of apps) {
        const target = Math.min(events, app.emitted + run);
        while (app.emitted < target) {
          if (options.shape === 'one-stream') {
            app.label += 1;
            emit(app, streams.app(app.id), 'AppUpdated', { label: `Label ${app.label}`, description: `Description number ${app.label} of a long history` });
          } else {
            step(app, emit, storeBlob, scale, events - app.emitted);
          }
        }
        if (pending >= batchSize) await flush();
      }
    }
    await flush();
    await Promise.all(pendingBlobs.splice(0));
  };
  await growTo(options.events);
  const grown = () => apps.map((app) => ({
    id: app.id,
    name: app.name,
    events: app.emitted,
    contents: app.contents,
    assetVersions: app.assetVersions,
    assetBytes: app.assetBytes,
    schemas: SCHEMAS.map((s, i) => ({ id: app.schemaIds[i]!, name: s.name })),
    contributors: app.contributors,
  }));
  return {
    apps: grown(),
    more: async (events, target) => {
      if (target) [store, blobs] = [target.store, target.blobs];
      await growTo(Math.max(...apps.map((app) => app.emitted)) + events);
      return grown();
    },
  };
}

type Emit = (app: AppState, stream: string, type: string, data: Record<string, unknown>, actor?: string) => void;

function prelude(app: AppState, emit: Emit, shape: 'mix' | 'one-stream'): void {
  const owner = app.contributors[0]!.id;
  const appStream = streams.app(app.id);
  emit(app, appStream, 'AppCreated', { appId: app.id, name: app.name, label: `The ${app.name} app`, description: 'Grown by the benchmark' }, owner);
  emit(app, appStream, 'AppContributorAssigned', { userId: owner, role: 'Owner' }, owner);
  emit(app, appStream, 'AppContributorAssigned', { userId: app.contributors[1]!.id, role: 'Developer' }, owner);
  emit(app, appStream, 'AppContributorAssigned', { userId: app.contributors[2]!.id, role: 'Editor' }, owner);
  if (shape === 'one-stream') return;
  SCHEMAS.forEach((schema, i) => {
    const id = app.schemaIds[i]!;
    emit(app, streams.child('schema', app.id, id), 'SchemaCreated', { schemaId: id, name: schema.name, fields: schema.fields.map((f) => ({ ...f })) }, owner);
  });
}

function step(app: AppState, emit: Emit, storeBlob: (app: AppState, assetId: string, fileVersion: number, bytes: Buffer) => void, scale: number, left: number): void {
  const r = app.rand();
  if (r < 0.33 || app.live.length === 0) return createContent(app, emit);
  if (r < 0.78) return updateContent(app, emit);
  if (r < 0.9) return changeStatus(app, emit);
  if (r < 0.92) return deleteContent(app, emit);
  if (r < 0.98 && left > 1) return assetChange(app, emit, storeBlob, scale);
  if (r < 0.99) {
    app.label += 1;
    return emit(app, streams.app(app.id), 'AppUpdated', { label: `The ${app.name} app, take ${app.label}`, description: sentence(app, 12) });
  }
  return updateContent(app, emit);
}

function createContent(app: AppState, emit: Emit): void {
  const schema = pickSchema(app.rand);
  const id = randomUUID();
  const status: Status = app.rand() < 0.3 ? 'Published' : 'Draft';
  emit(app, streams.child('content', app.id, id), 'ContentCreated', {
    contentId: id,
    schemaId: app.schemaIds[schema]!,
    schemaName: SCHEMAS[schema]!.name,
    data: contentData(app, SCHEMAS[schema]!),
    status,
  });
  const content = { id, schema, status };
  app.live.push(content);
  app.recent.push(content);
  if (app.recent.length > 50) app.recent.shift();
  app.contents += 1;
}

/** A content that may be edited: not Archived (the domain refuses edits of Archived content). */
function editable(app: AppState): LiveContent | undefined {
  for (let attempt = 0; attempt < 8; attempt++) {
    const pool = app.rand() < 0.75 && app.recent.length > 0 ? app.recent : app.live;
    const candidate = pick(app.rand, pool);
    if (candidate.status !== 'Archived') return candidate;
  }
  return undefined;
}

function updateContent(app: AppState, emit: Emit): void {
  const content = editable(app);
  if (!content) return createContent(app, emit);
  emit(app, streams.child('content', app.id, content.id), 'ContentUpdated', { data: contentData(app, SCHEMAS[content.schema]!) });
}

function changeStatus(app: AppState, emit: Emit): void {
  const content = pick(app.rand, app.rand() < 0.6 && app.recent.length > 0 ? app.recent : app.live);
  const choices = (['Draft', 'Published', 'Archived'] as const).filter((s) => s !== content.status);
  content.status = pick(app.rand, choices);
  emit(app, streams.child('content', app.id, content.id), 'ContentStatusChanged', { status: content.status });
}

function deleteContent(app: AppState, emit: Emit): void {
  const index = Math.floor(app.rand() * app.live.length);
  const [content] = app.live.splice(index, 1);
  if (!content) return;
  const recent = app.recent.indexOf(content);
  if (recent >= 0) app.recent.splice(recent, 1);
  emit(app, streams.child('content', app.id, content.id), 'ContentDeleted', {});
}

function assetChange(app: AppState, emit: Emit, storeBlob: (app: AppState, assetId: string, fileVersion: number, bytes: Buffer) => void, scale: number): void {
  const replace = app.assets.length > 0 && app.rand() < 0.4;
  const asset = replace ? pick(app.rand, app.assets) : { id: randomUUID(), versions: 0 };
  const kind = pick(app.rand, [
    { ext: 'jpg', mime: 'image/jpeg', text: false },
    { ext: 'png', mime: 'image/png', text: false },
    { ext: 'txt', mime: 'text/plain', text: true },
    { ext: 'json', mime: 'application/json', text: true },
  ]);
  const size = Math.floor((2_000 + app.rand() * 38_000) * scale);
  const bytes = kind.text ? Buffer.from(sentence(app, Math.ceil(size / 6)).slice(0, size)) : noise(app.rand, size);
  const file = { fileName: `file-${asset.id.slice(0, 8)}.${kind.ext}`, mimeType: kind.mime, fileSize: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
  const fileVersion = asset.versions;
  storeBlob(app, asset.id, fileVersion, bytes);
  const stream = streams.child('asset', app.id, asset.id);
  if (replace) emit(app, stream, 'AssetFileReplaced', { fileVersion, ...file });
  else emit(app, stream, 'AssetCreated', { assetId: asset.id, fileVersion: 0, ...file });
  asset.versions += 1;
  if (!replace) app.assets.push(asset);
}

function contentData(app: AppState, schema: SchemaSpec): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const field of schema.fields) {
    if (!field.required && app.rand() < 0.15) continue;
    switch (field.type) {
      case 'String':
        data[field.name] = field.name === 'body' || field.name === 'description' || field.name === 'bio' ? sentence(app, 40 + Math.floor(app.rand() * 80)) : sentence(app, 3 + Math.floor(app.rand() * 5));
        break;
      case 'Number':
        data[field.name] = Math.round(app.rand() * 100_000) / 100;
        break;
      case 'Boolean':
        data[field.name] = app.rand() < 0.5;
        break;
      case 'DateTime':
        data[field.name] = new Date(Date.UTC(2000, 0, 1) + Math.floor(app.rand() * 9e11)).toISOString();
        break;
      case 'Json':
        data[field.name] = { source: pick(app.rand, app.words), weight: Math.floor(app.rand() * 1000), dimensions: [Math.floor(app.rand() * 100), Math.floor(app.rand() * 100)], notes: { lang: pick(app.rand, ['en', 'de', 'fr']), draft: app.rand() < 0.2 } };
        break;
      case 'Assets':
        data[field.name] = app.assets.length > 0 ? [pick(app.rand, app.assets).id] : [];
        break;
      case 'References':
        data[field.name] = app.live.length > 0 ? [pick(app.rand, app.live).id, pick(app.rand, app.live).id] : [];
        break;
    }
  }
  return data;
}

function sentence(app: AppState, words: number): string {
  const out: string[] = [];
  // Word use is skewed, as in real text: a few words are everywhere, most are rare.
  for (let i = 0; i < words; i++) out.push(app.words[Math.floor(app.words.length * app.rand() ** 3)]!);
  return out.join(' ');
}

function vocabulary(rand: () => number, size: number): string[] {
  const words = new Set<string>();
  while (words.size < size) {
    const n = 1 + Math.floor(rand() * 4);
    let word = '';
    for (let i = 0; i < n; i++) word += pick(rand, SYLLABLES);
    words.add(word);
  }
  return [...words];
}

function pickSchema(rand: () => number): number {
  let r = rand();
  for (let i = 0; i < SCHEMAS.length; i++) {
    r -= SCHEMAS[i]!.weight;
    if (r < 0) return i;
  }
  return 0;
}

function noise(rand: () => number, size: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i += 4) bytes.writeUInt32LE((rand() * 4294967296) >>> 0, Math.min(i, size - 4));
  return bytes;
}

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

/** Commits the grown apps' names in a DATA_DIR's claims, as creating the apps would have. */
export async function claimAppNames(claimsFile: string, apps: readonly GrownApp[]): Promise<void> {
  const names = SqliteNameIndex.open(claimsFile);
  try {
    for (const app of apps) {
      const claim = claims.appName(app.name);
      await names.commit(claim, await names.reserve(claim, 60_000), app.id);
    }
  } finally {
    await names.close();
  }
}
