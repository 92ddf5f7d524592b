import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AppConfig } from './config/app-config.js';
import { AppModule } from './app.module.js';
import { DataDirLock } from './infrastructure/data-dir.lock.js';
import { serveOpenApi } from './openapi.js';
import { referrerPolicy } from './platform/http/referrer-policy.middleware.js';
import { createAppLogger } from './platform/logging/app-logger.js';
import { requestLog } from './platform/logging/request-log.middleware.js';
import { RequestTracker } from './graceful-shutdown.js';

const trackers = new WeakMap<INestApplication, RequestTracker>();

/** The requests in flight of an application createServer built (what a graceful shutdown waits for). */
export function requestTracker(app: INestApplication): RequestTracker {
  const tracker = trackers.get(app);
  if (!tracker) throw new Error('The application was not built by createServer');
  return tracker;
}

/**
 * Builds the Nest application; main.ts and the e2e tests share it so tests run the real wiring.
 * The DATA_DIR lock comes first: a second process on the same folder is refused before it opens
 * anything (DataDirInUseError). Signals are handled by main.ts (a bounded, logged shutdown).
 */
export async function createServer(config: AppConfig, options: { quiet?: boolean } = {}): Promise<INestApplication> {
  const lock = DataDirLock.acquire(config.dataDir);
  try {
    const logger = createAppLogger(config.logFormat, config.logLevel, options.quiet);
    const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, lock), { logger, bodyParser: false, abortOnError: false });
    const tracker = new RequestTracker();
    app.use(referrerPolicy);
    app.use(tracker.middleware);
    app.use(requestLog(config.logFormat));
    trackers.set(app, tracker);
    // JSON bodies are small documents; files go through multipart streaming instead.
    app.useBodyParser('json', { limit: '5mb' });
    serveOpenApi(app);
    return app;
  } catch (error) {
    lock.release();
    throw error;
  }
}
