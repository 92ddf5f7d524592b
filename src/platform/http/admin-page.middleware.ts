import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';

/**
 * Where `npm run build` puts the admin page (Vite, web/ → dist/admin). The same folder whether the
 * server runs compiled (dist/platform/http) or from source in the tests (src/platform/http).
 */
export const ADMIN_PAGE_DIR = fileURLToPath(new URL('../../../dist/admin', import.meta.url));

const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * The page is static files only: nothing here reads a key or data, every call it makes goes to
 * the documented API. Hashed files under `assets/` are cached for a year; index.html is
 * revalidated each time so a new build is picked up at once. Client routes (`/admin/apps/shop`)
 * get index.html; a missing asset is a plain 404. Without a build, 503 says how to make one.
 */
export function adminPageRouter(dir: string = ADMIN_PAGE_DIR): Router {
  const router = express.Router({ strict: false });
  const index = join(dir, 'index.html');
  router.use((req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.status(405).set('Allow', 'GET, HEAD').json({ statusCode: 405, error: 'Method Not Allowed', message: 'The admin page is static: only GET and HEAD' });
      return;
    }
    res.set('X-Content-Type-Options', 'nosniff');
    // Everything the page needs comes from this server: no CDN, no inline script, no framing.
    res.set('Content-Security-Policy', "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'");
    if (!existsSync(index)) {
      res.status(503).set('Cache-Control', 'no-store').json({ statusCode: 503, error: 'Service Unavailable', message: 'The admin page is not built: run "npm run build" (it builds the server and the page into dist/admin)' });
      return;
    }
    next();
  });
  router.use(
    express.static(dir, {
      index: false,
      redirect: false,
      fallthrough: true,
      setHeaders: (res, path) => {
        res.setHeader('Cache-Control', path.startsWith(join(dir, 'assets')) ? IMMUTABLE : 'no-cache');
      },
    }),
  );
  router.use((req: Request, res: Response) => {
    // A hashed file that is not there is a 404, never the page (a stale tab must not get HTML as script).
    if (req.path.startsWith('/assets/')) {
      res.status(404).set('Cache-Control', 'no-cache').json({ statusCode: 404, error: 'Not Found', message: `No such file: /admin${req.path}` });
      return;
    }
    res.set('Cache-Control', 'no-cache');
    res.sendFile(index, { headers: { 'Content-Type': 'text/html; charset=utf-8' }, cacheControl: false }, (error?: Error) => {
      if (error && !res.headersSent) res.status(500).end();
    });
  });
  return router;
}
