#!/usr/bin/env node
// The `appvault` command: a launcher for the compiled CLI (src/cli → dist/cli by `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/cli/commands/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('appvault: not built yet; run "npm run build" first\n');
  process.exit(2);
}
const { run } = await import(main.href);
process.exitCode = await run(process.argv);
