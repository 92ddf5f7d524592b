import 'reflect-metadata';
import { ConfigError, loadConfig } from './config/app-config.js';
import { StartupService } from './platform/startup/startup.service.js';
import { createServer } from './server.js';

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
  const app = await createServer(config);
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
