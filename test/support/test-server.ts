import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamicModule, INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { TestingModuleBuilder } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import { AppModule } from '../../src/app.module.js';
import { loadConfig } from '../../src/config/app-config.js';
import { DataDirLock } from '../../src/infrastructure/data-dir.lock.js';
import { createServer } from '../../src/server.js';
import { checkAnswers } from './contract-check.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface TestServer {
  app: INestApplication;
  url: string;
  dataDir: string;
  admin: ApiClient;
  client(token?: string): ApiClient;
  close(): Promise<void>;
}

export function tempDir(prefix = 'appvault-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** The real application on a real port with real SQLite files in a fresh directory. */
export async function startServer(env: Record<string, string> = {}, dataDir = tempDir()): Promise<TestServer> {
  const config = loadConfig({ DATA_DIR: dataDir, ADMIN_TOKEN, PORT: '0', HOST: '127.0.0.1', ...env });
  return listening(await createServer(config, { quiet: true }), dataDir);
}

/**
 * The real application (every module, real HTTP, its own DATA_DIR and lock) built as a testing
 * module, so a test can bind providers of its own: `compose` gets the root module and returns the
 * builder (Test.createTestingModule with it, overrides, more modules).
 */
export async function startComposedServer(env: Record<string, string>, dataDir: string, compose: (root: DynamicModule) => TestingModuleBuilder): Promise<TestServer> {
  const config = loadConfig({ DATA_DIR: dataDir, ADMIN_TOKEN, PORT: '0', HOST: '127.0.0.1', ...env });
  const lock = DataDirLock.acquire(dataDir);
  try {
    const moduleRef = await compose(AppModule.forRoot(config, lock)).compile();
    const app = moduleRef.createNestApplication<NestExpressApplication>({ bodyParser: false, logger: false });
    app.useBodyParser('json', { limit: '5mb' });
    return await listening(app, dataDir);
  } catch (error) {
    lock.release();
    throw error;
  }
}

/**
 * Puts a built application on a free loopback port and waits until it is ready. Every answer it
 * gives is checked against the HTTP contract (contract-check.ts).
 */
export async function listening(app: INestApplication, dataDir: string): Promise<TestServer> {
  checkAnswers(app);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as AddressInfo;
  const url = `http://127.0.0.1:${address.port}`;
  await waitUntilReady(url);
  return {
    app,
    url,
    dataDir,
    admin: new ApiClient(url, ADMIN_TOKEN),
    client: (token?: string) => new ApiClient(url, token),
    close: () => app.close(),
  };
}

/** The server listens before start-up (catch-up, first admin) is done; tests begin once it is ready. */
export async function waitUntilReady(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${url}/health/ready`);
    if (res.status === 200) return;
    const body = (await res.json()) as { status?: string; reason?: string };
    if (body.status === 'failed') throw new Error(`The server failed to start: ${body.reason ?? ''}`);
    if (Date.now() > deadline) throw new Error(`The server was not ready within ${timeoutMs} ms: ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

/** A thin fetch wrapper; every call goes over real HTTP. */
export class ApiClient {
  constructor(
    readonly url: string,
    readonly token?: string,
  ) {}

  // Response bodies are loosely typed on purpose: the tests assert on them field by field.
  async request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
    const init: RequestInit = { method, headers: { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...headers } };
    if (body !== undefined) {
      if (body instanceof FormData) {
        init.body = body;
      } else {
        (init.headers as Record<string, string>)['content-type'] = 'application/json';
        init.body = JSON.stringify(body);
      }
    }
    const response = await fetch(`${this.url}${path}`, init);
    const text = await response.text();
    let parsed: unknown = text;
    if ((response.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
    return { status: response.status, body: parsed as T, headers: response.headers };
  }

  get<T = any>(path: string, headers?: Record<string, string>) {
    return this.request<T>('GET', path, undefined, headers);
  }
  post<T = any>(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('POST', path, body ?? {}, headers);
  }
  put<T = any>(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('PUT', path, body ?? {}, headers);
  }
  delete<T = any>(path: string) {
    return this.request<T>('DELETE', path);
  }

  async bytes(path: string): Promise<{ status: number; bytes: Buffer; headers: Headers }> {
    const response = await fetch(`${this.url}${path}`, { headers: this.token ? { authorization: `Bearer ${this.token}` } : {} });
    return { status: response.status, bytes: Buffer.from(await response.arrayBuffer()), headers: response.headers };
  }
}

/** Creates a user through the API and returns a client that acts as them. */
export async function createUser(server: TestServer, email: string, admin = false): Promise<{ id: string; client: ApiClient }> {
  const res = await server.admin.post('/api/users', { email, admin });
  if (res.status !== 201) throw new Error(`creating ${email} failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.id as string, client: server.client(res.body.apiKey as string) };
}

export interface Actor {
  id: string;
  client: ApiClient;
}

export interface Cast {
  app: Record<string, unknown>;
  owner: Actor;
  developer: Actor;
  editor: Actor;
  reader: Actor;
  stranger: Actor;
}

/** One user per role on a new app (the owner creates it), plus a stranger with no role: what role checks need. */
export async function createCast(server: TestServer, appName: string, appFields: Record<string, unknown> = {}): Promise<Cast> {
  const owner = await createUser(server, 'owner@example.com');
  const developer = await createUser(server, 'dev@example.com');
  const editor = await createUser(server, 'editor@example.com');
  const reader = await createUser(server, 'reader@example.com');
  const stranger = await createUser(server, 'stranger@example.com');
  const app = await owner.client.post('/api/apps', { name: appName, ...appFields });
  if (app.status !== 201) throw new Error(`creating app ${appName} failed: ${app.status} ${JSON.stringify(app.body)}`);
  for (const [email, role] of [['dev@example.com', 'Developer'], ['editor@example.com', 'Editor'], ['reader@example.com', 'Reader']]) {
    const res = await owner.client.post(`/api/apps/${appName}/contributors`, { email, role });
    if (res.status !== 200) throw new Error(`making ${email} ${role} failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return { app: app.body, owner, developer, editor, reader, stranger };
}
