import 'reflect-metadata';
import { ConsoleLogger, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AppConfig } from './config/app-config.js';
import { AppModule } from './app.module.js';

const LEVELS = ['error', 'warn', 'log', 'debug', 'verbose'] as const;

/** Builds the Nest application; main.ts and the e2e tests share it so tests run the real wiring. */
export async function createServer(config: AppConfig, options: { quiet?: boolean } = {}): Promise<INestApplication> {
  const logger = new ConsoleLogger({
    json: config.logFormat === 'json',
    logLevels: options.quiet ? ['error'] : LEVELS.slice(0, LEVELS.indexOf(config.logLevel) + 1),
  });
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), { logger, bodyParser: false, abortOnError: false });
  // JSON bodies are small documents; files go through multipart streaming instead.
  app.useBodyParser('json', { limit: '5mb' });
  app.enableShutdownHooks();
  return app;
}
