import { readFileSync } from 'node:fs';
import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { API_COMPONENTS, OPERATIONS, type OperationDoc } from './openapi-operations.js';

type Operation = NonNullable<OpenAPIObject['paths'][string]['get']>;
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

const ERROR_WORDS: Record<number, string> = {
  400: 'Invalid input; the message names the field and says what it must be',
  401: 'No API key, or one the server does not know',
  403: 'The key is valid but may not do this',
  404: 'The app, or the thing the path names, does not exist',
  409: 'A conflict: a name taken or reserved, a version mismatch, a limit reached or a job still running',
  410: 'Gone: the link expired or was revoked, or its backup, its app or its maker’s access to the app is gone; or a file version’s bytes are gone. The message says which',
  413: 'Over a configured size limit',
  416: 'The range starts past the end of the archive',
  503: 'The server is starting or its read models lag behind',
};

/**
 * The OpenAPI 3.1 document, made from the running application: every route Nest serves, with the
 * request bodies and query parameters of the very schemas the API validates with (zod, read by
 * @nestjs/swagger as Standard JSON Schema). What validation cannot say (the answer of each route,
 * its errors, who may call it) comes from one table, OPERATIONS; a test checks the table and the
 * routes agree, and that real answers match the schemas given here.
 */
export function buildOpenApiDocument(app: INestApplication, version: string): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('AppVault API')
    .setDescription(
      'Self-hosted, event-sourced app platform with backups you can trust. Every `/api/**` route needs `Authorization: Bearer <apiKey>` ' +
        'except download links (`/api/links/...`), whose signature is the permission. Lists page with `top` (1-1000, default 100) and `skip`; ' +
        'errors are `{ statusCode, error, message }`.',
    )
    .setVersion(version)
    .setOpenAPIVersion('3.1.0')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An AppVault API key (`av_…`)' }, 'apiKey')
    .addSecurityRequirements('apiKey')
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (controller, method) => `${controller.replace(/Controller$/, '')}_${method}`,
  });
  document.components = { ...document.components, schemas: { ...document.components?.schemas, ...API_COMPONENTS } };
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const described = OPERATIONS[`${method.toUpperCase()} ${path}`];
      if (described) describe(path, operation, described);
    }
  }
  return document;
}

function describe(path: string, operation: Operation, doc: OperationDoc): void {
  operation.summary = doc.summary;
  // Path parameters read through decorators of our own (the app, by name) are not seen by the scanner.
  const parameters = operation.parameters ?? [];
  for (const [, name] of path.matchAll(/\{([^}]+)\}/g)) {
    if (!parameters.some((p) => 'in' in p && p.in === 'path' && p.name === name)) parameters.push({ name: name!, in: 'path', required: true, schema: { type: 'string' } });
  }
  for (const [name, query] of Object.entries(doc.query ?? {})) {
    if (!parameters.some((p) => 'in' in p && p.in === 'query' && p.name === name)) parameters.push({ name, in: 'query', required: true, ...query });
    else for (const p of parameters) if ('in' in p && p.in === 'query' && p.name === name) Object.assign(p, { required: true, ...query });
  }
  operation.parameters = parameters;
  if (doc.multipart) {
    const body = operation.requestBody && 'content' in operation.requestBody ? operation.requestBody : { required: true, content: {} };
    body.content['multipart/form-data'] = { schema: doc.multipart };
    operation.requestBody = body;
  }
  if (doc.tag) operation.tags = [doc.tag];
  if (doc.public) operation.security = [];
  const responses: Operation['responses'] = {};
  const content = doc.schema === undefined ? undefined : { [doc.contentType ?? 'application/json']: { schema: typeof doc.schema === 'string' ? { $ref: `#/components/schemas/${doc.schema}` } : doc.schema } };
  responses[String(doc.status)] = { description: doc.description ?? doc.summary, ...(content ? { content } : {}) };
  if (doc.also) responses[String(doc.also.status)] = { description: doc.also.description, content: { 'application/json': { schema: { $ref: `#/components/schemas/${doc.also.schema}` } } } };
  const errors = new Set<number>([...(doc.public ? [] : [401]), ...(doc.errors ?? [])]);
  if ((operation.parameters ?? []).some((p) => 'in' in p && p.in === 'query') || operation.requestBody) errors.add(400);
  for (const status of [...errors].sort()) {
    responses[String(status)] = { description: ERROR_WORDS[status] ?? 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  }
  operation.responses = responses;
}

/** package.json's version; this file sits three folders deep in src/ and in dist/ alike. */
function productVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return manifest.version ?? '0.0.0';
}

/**
 * Serves the document at /api/openapi.json and a browsable page at /api/docs (Swagger UI from the
 * installed swagger-ui-dist, no CDN). Both are open: the document holds no data, only the API's shape.
 */
export function serveOpenApi(app: INestApplication): void {
  const document = buildOpenApiDocument(app, productVersion());
  SwaggerModule.setup('api/docs', app, document, {
    jsonDocumentUrl: 'api/openapi.json',
    raw: ['json'],
    customSiteTitle: 'AppVault API',
    swaggerOptions: { persistAuthorization: false, tryItOutEnabled: false },
  });
}
