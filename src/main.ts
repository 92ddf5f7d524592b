import 'reflect-metadata';
import { ConfigError, loadConfig } from './config/app-config.js';
import { Logger } from '@nestjs/common';
import { DataDirInUseError } from './infrastructure/data-dir.lock.js';
import { StoreUnreachableError } from './infrastructure/store-connect.js';
import { gracefulShutdown } from './graceful-shutdown.js';
import { applyHeapGrowth } from './platform/heap/heap-growth.js';
import { createAppLogger, earlyLogFormat } from './platform/logging/app-logger.js';
import { StartupService } from './platform/startup/startup.service.js';
import { createServer, requestTracker } from './server.js';

// Until the configuration is read, lines go out in the format LOG_FORMAT asks for.
Logger.overrideLogger(createAppLogger(earlyLogFormat(process.env)));
const boot = new Logger('AppVault');

/** Exits once what was logged has reached stdout and stderr (pipes write asynchronously). */
function exitAfterFlush(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

/** A configuration problem found while starting (a value checked only once read, such as AGE_IDENTITY_FILE): one record per problem, exit 78. */
function refusedConfiguration(error: unknown): boolean {
  if (!(error instanceof ConfigError)) return false;
  // One record per problem: a record is one line.
  for (const problem of error.problems) boot.error(`Invalid configuration: ${problem}`);
  exitAfterFlush(78); // EX_CONFIG: the environment, not the program, is wrong.
  return true;
}

/** Logs a failure as a message and, for an Error, its stack on the lines below (the logger escapes both). */
function logFailure(logger: Logger, what: string, error: unknown): void {
  if (error instanceof Error) logger.error(`${what}: ${error.message}`, error.stack);
  else logger.error(`${what}: ${String(error)}`);
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (refusedConfiguration(error)) return;
    throw error;
  }
  // Before the server allocates anything: a job's garbage then stays near what is live.
  applyHeapGrowth(config.heapGrowingPercent);
  let app;
  try {
    app = await createServer(config);
  } catch (error) {
    if (refusedConfiguration(error)) return;
    if (error instanceof DataDirInUseError || error instanceof StoreUnreachableError) {
      boot.error(error.message);
      exitAfterFlush(78); // EX_CONFIG: two processes on one folder, or a store URL nothing answers.
      return;
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
        () => exitAfterFlush(0),
        (error: unknown) => {
          logFailure(logger, 'AppVault could not stop cleanly', error);
          exitAfterFlush(1);
        },
      );
    });
  }
  try {
    // Modules initialise here (Nest runs their init hooks in listen).
    await app.listen(config.port, config.host);
  } catch (error) {
    if (error instanceof ConfigError) await app.close().catch(() => undefined);
    if (refusedConfiguration(error)) return;
    throw error;
  }
  boot.log(`AppVault listening on http://${config.host}:${config.port} (data in ${config.dataDir})`);
  boot.debug(
    config.heapGrowingPercent > 0
      ? `V8 heap growth: at most ${config.heapGrowingPercent}% past the live heap between major collections (HEAP_GROWING_PERCENT)`
      : "V8 heap growth: V8's own heuristic (HEAP_GROWING_PERCENT=0)",
  );
  const startup = app.get(StartupService);
  await startup.whenSettled();
  if (startup.state === 'failed') {
    boot.error(`AppVault failed to start: ${startup.error?.message ?? 'unknown error'}`);
    await app.close().catch(() => undefined);
    exitAfterFlush(1);
  }
}

main().catch((error: unknown) => {
  logFailure(boot, 'AppVault failed to start', error);
  exitAfterFlush(1);
});
