import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

const logger = new Logger('HTTP');

/** A caller's own request id is kept when it looks like one; anything else gets a new one. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,100}$/;

/**
 * One log line per request once it is answered: method, route (the pattern, e.g.
 * `/api/apps/:app/backups/:id`), path without its query (queries can carry signatures), status,
 * duration in ms and the request id, which is also sent back as `X-Request-Id`. Health probes are
 * logged at debug level: a probe every few seconds would drown everything else.
 */
export function requestLog(format: 'text' | 'json'): (req: Request, res: Response, next: NextFunction) => void {
  return (req, res, next) => logRequest(format, req, res, next);
}

function logRequest(format: 'text' | 'json', req: Request, res: Response, next: NextFunction): void {
  const started = process.hrtime.bigint();
  const given = req.headers['x-request-id'];
  const requestId = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
  res.setHeader('X-Request-Id', requestId);
  const path = req.originalUrl.split('?')[0] ?? '';
  res.once('close', () => {
    const route = (req.route as { path?: string } | undefined)?.path;
    const entry = {
      method: req.method,
      route: route ?? null,
      path: path.slice(0, 300),
      status: res.statusCode,
      durationMs: Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100,
      requestId,
      ...(res.writableFinished ? {} : { aborted: true }),
    };
    // JSON logs get the fields; text logs one readable line with the same facts.
    const line = format === 'json' ? entry : `${entry.method} ${entry.path} ${entry.status} ${entry.durationMs} ms${entry.route ? ` (${entry.route})` : ''} id=${requestId}${entry.aborted ? ' aborted' : ''}`;
    if (path.startsWith('/health')) logger.debug(line);
    else logger.log(line);
  });
  next();
}
