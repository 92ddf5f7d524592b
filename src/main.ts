import 'reflect-metadata';
import { ConfigError, loadConfig } from './config/app-config.js';
import { Logger } from '@nestjs/common';
import { DataDirInUseError } from './infrastructure/data-dir.lock.js';
import { StoreUnreachableError } from './infrastructure/store-connect.js';
import { gracefulShutdown } from './platform/shutdown/graceful-shutdown.js';
import { StartupService } from './platform/startup/startup.service.js';
import { createServer, requestTracker } from './server.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(78); // EX_CONFIG: the environment, not the program, is wrong.
    }
    throw error;
  }
  let app;
  try {
    app = await createServer(config);
  } catch (error) {
    if (error instanceof DataDirInUseError || error instanceof StoreUnreachableError) {
      console.error(error.message);
      process.exit(78); // EX_CONFIG: two processes on one folder, or a store URL nothing answers.
    }
    throw error;
  }
  const running = app;
  const logger = new Logger('Shutdown');
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      gracefulShutdown(running, requestTracker(running), { signal, timeoutMs: config.shutdownTimeoutMs, logger }).then(
        () => process.exit(0),
        (error: unknown) => {
          console.error('AppVault could not stop cleanly:', error instanceof Error ? (error.stack ?? error.message) : error);
          process.exit(1);
        },
      );
    });
  }
  await app.listen(config.port, config.host);
  console.log(`AppVault listening on http://${config.host}:${config.port} (data in ${config.dataDir})`);
  const startup = app.get(StartupService);
  await startup.whenSettled();
  if (startup.state === 'failed') {
    console.error(`AppVault failed to start: ${startup.error?.message ?? 'unknown error'}`);
    await app.close().catch(() => undefined);
    process.exit(1);
  }
}

main().catch((error: unknown) => {
  console.error('AppVault failed to start:', error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
