import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_OPERATIONS, type Operation } from '../../src/contract/api-operations.js';
import { API_ROUTES, type RouteName } from '../../src/contract/api-routes.js';
import { requestJsonSchema, routeOf } from '../../src/contract/openapi-document.js';
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import { ModulesContainer } from '@nestjs/core';
import { ACCESS_KEY, type AccessRule } from '../../src/auth/access.decorator.js';
import type { z } from 'zod';
import { fileForm, waitForJob } from '../support/fixtures.js';
import { createUser, startServer, type TestServer } from '../support/test-server.js';

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, { summary?: string; security?: unknown[]; responses: Record<string, { content?: Record<string, { schema: unknown }> }>; requestBody?: unknown }>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
  security: unknown[];
};

/** The routes Express serves for Nest, as `METHOD /path/{param}`. */
function nestRoutes(server: TestServer): string[] {
  const express = server.app.getHttpAdapter().getInstance() as { router: { stack: { route?: { path: string; methods: Record<string, boolean> } }[] } };
  const routes: string[] = [];
  for (const layer of express.router.stack) {
    if (!layer.route) continue;
    const path = layer.route.path.replace(/:([A-Za-z]+)/g, '{$1}');
    if (path.startsWith('/api/docs') || path === '/api/openapi.json') continue;
    for (const method of Object.keys(layer.route.methods)) if (method !== '_all') routes.push(`${method.toUpperCase()} ${path}`);
  }
  return routes;
}

interface Handled {
  route: RouteName;
  body?: z.ZodType;
  query?: z.ZodType;
  access?: AccessRule;
}

/** Each route's `@Body({ schema })`, `@Query({ schema })` and access rule, read from the controllers' own metadata. */
function validatedParts(server: TestServer): Handled[] {
  const found: Handled[] = [];
  const segment = (value: unknown) => (typeof value === 'string' ? value.replace(/^\/|\/$/g, '') : '');
  for (const module of server.app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as (new (...args: never[]) => object) | null;
      if (!controller) continue;
      // Routes a controller inherits (the jobs module's list, get and event-stream routes) count too.
      const keys = new Set<string>();
      for (let proto: object | null = controller.prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
        for (const key of Object.getOwnPropertyNames(proto)) keys.add(key);
      }
      for (const key of keys) {
        const handler = (controller.prototype as Record<string, unknown>)[key];
        const method = typeof handler === 'function' ? (Reflect.getMetadata(METHOD_METADATA, handler as object) as RequestMethod | undefined) : undefined;
        if (method === undefined) continue;
        const path = `/${[segment(Reflect.getMetadata(PATH_METADATA, controller)), segment(Reflect.getMetadata(PATH_METADATA, handler as object))].filter(Boolean).join('/')}`.replace(/:([A-Za-z]+)/g, '{$1}');
        const route = routeOf(RequestMethod[method], path);
        expect(route, `${RequestMethod[method]} ${path}`).toBeDefined();
        const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, key) ?? {}) as Record<string, { schema?: z.ZodType }>;
        const schemaOf = (type: RouteParamtypes) => Object.entries(args).find(([at, arg]) => at.startsWith(`${type}:`) && arg.schema)?.[1].schema;
        const access = Reflect.getMetadata(ACCESS_KEY, handler as object) as AccessRule | undefined;
        found.push({ route: route!, body: schemaOf(RouteParamtypes.BODY), query: schemaOf(RouteParamtypes.QUERY), access });
      }
    }
  }
  return found;
}

describe('the OpenAPI document', () => {
  let server: TestServer;
  let doc: Doc;

  beforeAll(async () => {
    server = await startServer();
    const res = await fetch(`${server.url}/api/openapi.json`);
    expect(res.status).toBe(200);
    doc = (await res.json()) as Doc;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('is valid OpenAPI 3.1, open to read, with the bearer scheme required by default', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const result = await new Validator().validate(doc as never);
    expect(result.errors ?? [], String(JSON.stringify(result.errors)).slice(0, 2000)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.components.securitySchemes['apiKey']).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ apiKey: [] }]);
    for (const open of ['/health', '/health/live', '/health/ready', '/api/links/{linkId}/archive']) expect(doc.paths[open]!['get']!.security, open).toEqual([]);
    expect(doc.paths['/api/backups']!['get']!.security).toBeUndefined();
  });

  it('covers every route the server serves, each described, and nothing that is not served', () => {
    const documented = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`));
    const served = nestRoutes(server);
    expect(served.length).toBeGreaterThan(50);
    expect([...documented].sort()).toEqual([...new Set(served)].sort());
    expect(Object.values(API_ROUTES).map((route) => `${route.method} ${route.path}`).sort()).toEqual([...documented].sort());
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        expect(operation.summary, `${method} ${path}`).toBeTruthy();
        const statuses = Object.keys(operation.responses);
        expect(statuses.some((s) => s.startsWith('2')), `${method} ${path}`).toBe(true);
        if (operation.security === undefined) expect(statuses, `${method} ${path}`).toContain('401');
      }
    }
  });

  it('describes bodies and paging with the schemas the API validates with', () => {
    const body = (path: string, method: string) => (doc.paths[path]![method]!.requestBody as { content: Record<string, { schema: Record<string, unknown> }> }).content;
    expect(body('/api/apps', 'post')['application/json']!.schema).toMatchObject({ type: 'object', required: ['name'], additionalProperties: false });
    expect(body('/api/apps/{app}/backups/{id}/links', 'post')['application/json']!.schema).toMatchObject({ additionalProperties: false });
    expect(Object.keys(body('/api/restore', 'post')).sort()).toEqual(['application/json', 'multipart/form-data']);
    expect(Object.keys(body('/api/apps/{app}/assets', 'post'))).toEqual(['multipart/form-data']);
    const params = (doc.paths['/api/apps/{app}/content/{schema}']!['get'] as unknown as { parameters: { name: string; in: string }[] }).parameters;
    expect(params.map((p) => `${p.in}:${p.name}`).sort()).toEqual(['path:app', 'path:schema', 'query:q', 'query:skip', 'query:top']);
  });

  it('takes every request body and query from the contract: the schemas the controllers validate with are the contract’s', () => {
    let compared = 0;
    for (const { route, body, query } of validatedParts(server)) {
      const contract: Operation = API_OPERATIONS[route];
      // The JSON Schema of each (refinements a controller adds, such as the cron check, do not show).
      if (body) {
        expect(contract.body, route).toBeDefined();
        expect(requestJsonSchema(body), route).toEqual(requestJsonSchema(contract.body!));
        compared += 1;
      }
      if (query) {
        expect(contract.query, route).toBeDefined();
        expect(requestJsonSchema(query), route).toEqual(requestJsonSchema(contract.query!));
        compared += 1;
      }
    }
    expect(compared).toBeGreaterThan(25);
  });

  it('names for every route the audience its guard lets in', () => {
    const handled = validatedParts(server);
    expect(handled.map((h) => h.route).sort()).toEqual((Object.keys(API_ROUTES) as RouteName[]).sort());
    for (const { route, access } of handled) {
      const { audience } = API_ROUTES[route];
      const expected: AccessRule =
        audience === 'public' ? { kind: 'public' } : audience === 'user' ? { kind: 'authenticated' } : audience === 'admin' ? { kind: 'admin' } : { kind: 'app', roles: [...audience] };
      expect(access, route).toEqual(expected);
      const words = (doc.paths[API_ROUTES[route].path]![API_ROUTES[route].method.toLowerCase()] as unknown as { description?: string }).description;
      expect(words, route).toMatch(/^Who may call it: /);
    }
    for (const name of Object.keys(API_ROUTES) as RouteName[]) {
      const { method, path } = API_ROUTES[name];
      const operation = doc.paths[path]![method.toLowerCase()]! as unknown as { requestBody?: { content: Record<string, unknown> }; parameters?: { name: string; in: string }[] };
      const contract: Operation = API_OPERATIONS[name];
      expect(Boolean(operation.requestBody?.content['application/json']), name).toBe(contract.body !== undefined);
      expect(Boolean(operation.requestBody?.content['multipart/form-data']), name).toBe(contract.multipart !== undefined);
      const queried = (operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name).sort();
      expect(queried, name).toEqual(Object.keys(contract.query?.shape ?? {}).sort());
    }
  });

  it('says what the real answers are: each matches its documented schema', async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    ajv.addSchema({ $id: 'doc', components: doc.components });
    const check = async (method: string, path: string, template: string, body?: unknown) => {
      const res = await server.admin.request(method, path, body);
      const operation = doc.paths[template]![method.toLowerCase()]!;
      const response = operation.responses[String(res.status)];
      expect(response, `${method} ${path} answered ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`).toBeDefined();
      const schema = response!.content?.['application/json']?.schema;
      if (schema) {
        const validate = ajv.compile({ $ref: `doc#/components/schemas/${String((schema as { $ref: string }).$ref).split('/').pop()}` });
        expect(validate(res.body), `${method} ${path}: ${JSON.stringify(validate.errors)}`).toBe(true);
      }
      return res.body as Record<string, unknown> & { id: string };
    };
    await check('GET', '/health', '/health');
    await check('GET', '/api/users/me', '/api/users/me');
    const user = await createUser(server, 'described@example.com');
    await check('GET', '/api/users', '/api/users');
    await check('POST', `/api/users/${user.id}/api-key`, '/api/users/{id}/api-key');
    await check('POST', '/api/apps', '/api/apps', { name: 'described' });
    await check('GET', '/api/apps', '/api/apps');
    await check('POST', '/api/apps/described/schemas', '/api/apps/{app}/schemas', { name: 'notes', fields: [{ name: 'text', type: 'String' }] });
    await check('GET', '/api/apps/described/schemas', '/api/apps/{app}/schemas');
    const content = await check('POST', '/api/apps/described/content/notes', '/api/apps/{app}/content/{schema}', { data: { text: 'hello' } });
    await check('GET', `/api/apps/described/content/notes/${content.id}`, '/api/apps/{app}/content/{schema}/{id}');
    await check('GET', '/api/apps/described/content/notes', '/api/apps/{app}/content/{schema}');
    const asset = await server.admin.post('/api/apps/described/assets', fileForm(Buffer.from('bytes'), 'a.txt', 'text/plain'));
    expect(asset.status).toBe(201);
    await check('GET', '/api/apps/described/assets', '/api/apps/{app}/assets');
    await check('GET', '/api/apps/described/events', '/api/apps/{app}/events');
    const backup = await check('POST', '/api/apps/described/backups', '/api/apps/{app}/backups', {});
    await waitForJob(server.admin, `/api/backups/${backup.id}`);
    await check('GET', `/api/backups/${backup.id}`, '/api/backups/{id}');
    await check('GET', '/api/apps/described/backups', '/api/apps/{app}/backups');
    await check('POST', `/api/backups/${backup.id}/links`, '/api/backups/{id}/links', { expiresIn: '1h' });
    await check('GET', `/api/backups/${backup.id}/links`, '/api/backups/{id}/links');
    await check('POST', '/api/restore', '/api/restore', { backupId: backup.id, name: 'described-copy', dryRun: true });
    const restore = await check('POST', '/api/restore', '/api/restore', { backupId: backup.id, name: 'described-copy' });
    await waitForJob(server.admin, `/api/restore/${restore.id}`);
    await check('GET', `/api/restore/${restore.id}`, '/api/restore/{id}');
    await check('GET', '/api/restore', '/api/restore');
    // Errors too.
    await check('GET', '/api/apps/nope', '/api/apps/{app}');
    await check('POST', '/api/apps', '/api/apps', { name: 'described', extra: 1 });
  });

  it('serves a browsable page from the installed Swagger UI, with nothing from a CDN', async () => {
    const page = await fetch(`${server.url}/api/docs`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('swagger-ui');
    expect(html).not.toMatch(/(src|href)="https?:\/\//);
    const init = await fetch(`${server.url}/api/docs/swagger-ui-init.js`);
    expect(init.status).toBe(200);
    const css = await fetch(`${server.url}/api/docs/swagger-ui.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toContain('text/css');
  });

  it('sends Referrer-Policy: no-referrer on the API docs, the admin page and every API answer', async () => {
    for (const path of ['/api/docs', '/api/docs/swagger-ui-init.js', '/api/openapi.json', '/admin', '/admin/apps/shop', '/admin/assets/nope.js', '/health', '/api/apps', '/api/users/me', '/api/links/x/archive', '/nowhere']) {
      const res = await fetch(`${server.url}${path}`, { headers: path === '/api/users/me' ? { authorization: `Bearer ${server.admin.token}` } : {} });
      await res.arrayBuffer();
      expect(res.headers.get('referrer-policy'), `${path} (${res.status})`).toBe('no-referrer');
    }
  });
});
