/**
 * `npm run bench`: every benchmark in turn, each in its own process so one's memory does not
 * colour another's figures. Timings belong here, never in tests.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const here = join(process.cwd(), 'dist-bench', 'bench');
let failed = false;
for (const script of ['backup-restore.bench.js', 'asset-upload-memory.js']) {
  console.log(`\n=== ${script} ===`);
  const result = spawnSync(process.execPath, [join(here, script)], { stdio: 'inherit' });
  if (result.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
