import type { OpenAPIObject } from '@nestjs/swagger';
import { z } from 'zod';
import { type Answer, answersOf, API_OPERATIONS, COMPONENTS, errorsOf, type Operation } from './api-operations.js';
import { API_ROUTES, type Audience, type RouteName } from './api-routes.js';

type JsonSchema = Record<string, unknown>;
type PathItem = OpenAPIObject['paths'][string];
type OpenApiOperation = NonNullable<PathItem['get']>;
type Parameter = Extract<NonNullable<OpenApiOperation['parameters']>[number], { in: string }>;

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

const EVENT_STREAM_WORDS = 'Server-sent events: `event: job` with the job (as its GET serves it) at each change, then `event: end` with `{ status }`';
const REF = (name: string) => `#/components/schemas/${name}`;

/** Leaves out what only clutters the document: zod's long date-time pattern and the safe-integer bounds of every integer. */
function tidy({ jsonSchema }: { jsonSchema: JsonSchema }): void {
  if (jsonSchema['format'] === 'date-time') delete jsonSchema['pattern'];
  if (jsonSchema['type'] === 'integer') {
    if (jsonSchema['minimum'] === Number.MIN_SAFE_INTEGER) delete jsonSchema['minimum'];
    if (jsonSchema['maximum'] === Number.MAX_SAFE_INTEGER) delete jsonSchema['maximum'];
  }
}

function withoutDialect(schema: JsonSchema): JsonSchema {
  const { $schema: _dialect, $id: _id, ...rest } = schema;
  return rest;
}

/** A request part (query, form, body) as JSON Schema: what a client sends, so the input side of the schema. */
export function requestJsonSchema(schema: z.ZodType): JsonSchema {
  return withoutDialect(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', override: tidy }) as JsonSchema);
}

/** Every named answer schema (COMPONENTS), referring to each other by `$ref`. */
function componentSchemas(): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(COMPONENTS)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, { uri: REF, io: 'output', unrepresentable: 'any', override: tidy }) as { schemas: Record<string, JsonSchema> };
  return Object.fromEntries(Object.entries(schemas).map(([id, schema]) => [id, withoutDialect(schema)]));
}

const componentNames = new Map<z.ZodType, string>(Object.entries(COMPONENTS).map(([id, schema]) => [schema, id]));

function answerSchema(schema: z.ZodType): JsonSchema {
  const name = componentNames.get(schema);
  if (!name) throw new Error('Every answer schema of API_OPERATIONS is named in COMPONENTS');
  return { $ref: REF(name) };
}

function answerContent(answer: Answer): Record<string, { schema: JsonSchema }> | undefined {
  switch (answer.kind) {
    case 'json':
      return { 'application/json': { schema: answerSchema(answer.schema) } };
    case 'events':
      return { 'text/event-stream': { schema: { type: 'string', description: EVENT_STREAM_WORDS } } };
    case 'file':
      return Object.fromEntries([answer.mediaType, ...(answer.otherMediaTypes ?? [])].map((type) => [type, { schema: { type: 'string', contentMediaType: type } }]));
    case 'empty':
      return undefined;
  }
}

function audienceWords(audience: Audience): string {
  if (audience === 'public') return 'anyone, without a key';
  if (audience === 'user') return 'any user with a key';
  if (audience === 'admin') return 'admins';
  return `the app’s ${audience.map((role) => `${role}s`).join(', ')}, and admins`;
}

/** The route of a `METHOD /path/{param}` as the document spells it. */
export function routeOf(method: string, path: string): RouteName | undefined {
  const wanted = method.toUpperCase();
  return (Object.keys(API_ROUTES) as RouteName[]).find((name) => API_ROUTES[name].method === wanted && API_ROUTES[name].path === path);
}

/**
 * Completes an operation Nest's scanner found (its path, and the bodies and queries of the
 * controllers' own schemas) with what the contract says: summary, audience, the parts the
 * scanner cannot see (bodies and forms read by hand), and every answer with its schema.
 */
function describe(path: string, operation: OpenApiOperation, route: RouteName): void {
  const contract: Operation = API_OPERATIONS[route];
  operation.summary = contract.summary;
  operation.tags = [contract.tag];
  const { audience } = API_ROUTES[route];
  if (audience === 'public') operation.security = [];
  operation.description = `Who may call it: ${audienceWords(audience)}.`;
  // Path parameters read through decorators of our own (the app, by name) are not seen by the
  // scanner; queries come from the contract, whether a controller validates them or reads them by hand.
  const parameters = ((operation.parameters ?? []) as Parameter[]).filter((p) => p.in !== 'query');
  for (const [, name] of path.matchAll(/\{([^}]+)\}/g)) {
    if (!parameters.some((p) => p.in === 'path' && p.name === name)) parameters.push({ name: name!, in: 'path', required: true, schema: { type: 'string' } });
  }
  const query = contract.query ? (requestJsonSchema(contract.query) as { properties?: Record<string, JsonSchema>; required?: string[] }) : {};
  for (const [name, { description, ...schema }] of Object.entries(query.properties ?? {})) {
    parameters.push({ name, in: 'query', required: query.required?.includes(name) ?? false, ...(typeof description === 'string' ? { description } : {}), schema });
  }
  operation.parameters = parameters;
  const body = operation.requestBody && 'content' in operation.requestBody ? operation.requestBody : { required: true, content: {} };
  if (contract.body && !body.content['application/json']) body.content['application/json'] = { schema: requestJsonSchema(contract.body) };
  if (contract.multipart) body.content['multipart/form-data'] = { schema: requestJsonSchema(contract.multipart) };
  if (Object.keys(body.content).length > 0) operation.requestBody = body;
  const responses: OpenApiOperation['responses'] = {};
  for (const [status, answer] of Object.entries(answersOf(route)) as [string, Answer][]) {
    const content = answerContent(answer);
    const words = ('description' in answer ? answer.description : undefined) ?? contract.summary;
    responses[status] = { description: words, ...(content ? { content } : {}) };
  }
  for (const status of errorsOf(route)) {
    responses[String(status)] ??= { description: ERROR_WORDS[status] ?? 'Error', content: { 'application/json': { schema: { $ref: REF('Error') } } } };
  }
  operation.responses = responses;
}

/** Adds the contract to a document Nest scanned from the served routes: components, then every operation. */
export function describeApi(document: OpenAPIObject): void {
  document.components = { ...document.components, schemas: { ...document.components?.schemas, ...componentSchemas() } };
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      const route = operation ? routeOf(method, path) : undefined;
      if (operation && route) describe(path, operation, route);
    }
  }
}
