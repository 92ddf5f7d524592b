import type { INestApplication } from '@nestjs/common';
import { createParser } from 'eventsource-parser';
import type { NextFunction, Request, Response } from 'express';
import type { z } from 'zod';
import { type Answer, answersOf, errorsOf } from '../../src/contract/api-operations.js';
import { ErrorBody, JobStreamEnd } from '../../src/contract/common.schemas.js';
import { routeOf } from '../../src/contract/openapi-document.js';
import type { RouteName } from '../../src/contract/api-routes.js';

/**
 * The contract, checked on every answer the test servers give: each test server (listening() in
 * test-server.ts) runs this middleware, which reads what each response sends and checks it
 * against the route's answer in src/contract (JSON bodies, every `job` event of an event stream,
 * error bodies, and that the status is one the contract names). A response that leaves its
 * schema is recorded here, and contract-check.setup.ts fails the test during which it was sent.
 */
const violations: string[] = [];

/** The violations recorded since the last call, which are then forgotten. */
export function takeContractViolations(): string[] {
  return violations.splice(0);
}

function problems(schema: z.ZodType, value: unknown): string | undefined {
  const result = schema.safeParse(value);
  if (result.success) return undefined;
  return result.error.issues.map((issue) => `${issue.path.join('.') || '(the answer)'}: ${issue.message}`).join('; ');
}

function parsed(text: string): { value?: unknown; error?: string } {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return { error: `not JSON: ${text.slice(0, 200)}` };
  }
}

/** What is wrong with an answer, or undefined when it keeps the contract. */
function check(route: RouteName | undefined, method: string, status: number, contentType: string, body: string): string | undefined {
  if (!route) {
    // Nothing the contract names (an unknown path, the API's own document): errors keep the one shape.
    if (status >= 400 && contentType.includes('json')) return problems(ErrorBody, parsed(body).value);
    return undefined;
  }
  const answer: Answer | undefined = answersOf(route)[status];
  if (!answer) {
    if (status < 400 || !errorsOf(route).includes(status)) return `status ${status} is not one the contract names for ${route}`;
    const json = parsed(body);
    return json.error ?? problems(ErrorBody, json.value);
  }
  if (method === 'HEAD') return undefined;
  switch (answer.kind) {
    case 'json': {
      if (!contentType.includes('application/json')) return `answered ${contentType || 'no content type'} instead of JSON`;
      const json = parsed(body);
      return json.error ?? problems(answer.schema, json.value);
    }
    case 'events': {
      if (!contentType.startsWith('text/event-stream')) return `answered ${contentType || 'no content type'} instead of an event stream`;
      const found: string[] = [];
      const parser = createParser({
        onEvent: (message) => {
          const json = parsed(message.data);
          const wrong = json.error ?? problems(message.event === 'end' ? JobStreamEnd : answer.schema, json.value);
          if (message.event !== 'job' && message.event !== 'end') found.push(`an event named ${String(message.event)}`);
          else if (wrong) found.push(`event ${message.event}: ${wrong}`);
        },
      });
      parser.feed(body);
      return found.length > 0 ? found.join('; ') : undefined;
    }
    case 'file':
      return answer.mediaType === 'application/octet-stream' || [answer.mediaType, ...(answer.otherMediaTypes ?? [])].some((type) => contentType.startsWith(type))
        ? undefined
        : `answered ${contentType} instead of ${answer.mediaType}`;
    case 'empty':
      return body.length > 0 ? `answered a body where the contract names none: ${body.slice(0, 200)}` : undefined;
  }
}

/** Only JSON and event streams are kept to be read; files pass untouched. */
const kept = (contentType: string) => contentType.includes('json') || contentType.startsWith('text/event-stream');

const checked = new WeakSet<INestApplication>();

/** Puts the check in front of every route of an application that has not started yet (once per application). */
export function checkAnswers(app: INestApplication): void {
  if (checked.has(app)) return;
  checked.add(app);
  app.use((req: Request, res: Response, next: NextFunction) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const keep = (chunk: unknown, encoding?: unknown) => {
      if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
      if (!kept(String(res.getHeader('content-type') ?? ''))) return;
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8') : Buffer.from(chunk as Uint8Array);
      total += buffer.length;
      chunks.push(buffer);
    };
    const write = res.write.bind(res) as (...args: unknown[]) => boolean;
    const end = res.end.bind(res) as (...args: unknown[]) => Response;
    res.write = ((...args: unknown[]) => {
      keep(args[0], args[1]);
      return write(...args);
    }) as Response['write'];
    res.end = ((...args: unknown[]) => {
      keep(args[0], args[1]);
      return end(...args);
    }) as Response['end'];
    res.once('close', () => {
      // A client that went away before the answer began was answered nothing; one cut off midway
      // has only whole events of a stream checked.
      if (!res.headersSent) return;
      if (!res.writableFinished && !String(res.getHeader('content-type') ?? '').startsWith('text/event-stream')) return;
      const template = typeof req.route?.path === 'string' ? req.route.path.replace(/:([A-Za-z]+)/g, '{$1}') : undefined;
      const route = template ? routeOf(req.method === 'HEAD' ? 'GET' : req.method, template) : undefined;
      const contentType = String(res.getHeader('content-type') ?? '');
      const wrong = check(route, req.method, res.statusCode, contentType, Buffer.concat(chunks, total).toString('utf8'));
      if (wrong) violations.push(`${req.method} ${req.originalUrl} answered ${res.statusCode} (${route ?? 'no route of the contract'}): ${wrong}`);
    });
    next();
  });
}
