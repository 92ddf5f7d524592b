import type { NextFunction, Request, Response } from 'express';

/**
 * `Referrer-Policy: no-referrer` on every answer: the admin page, /api/docs and the API alike.
 * A page of this server that links elsewhere (or loads nothing but its own files, as now) never
 * tells another site which address it came from: those carry app names and ids in their paths,
 * and a download link its signature in its query.
 */
export function referrerPolicy(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Referrer-Policy', 'no-referrer');
  next();
}
