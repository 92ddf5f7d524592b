/**
 * `npm run bench`: every benchmark in turn, each in its own process so one's memory does not
 * colour another's figures. Timings belong here, never in tests. Arguments (`--json[=file]`)
 * go to the replay benchmark.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const here = join(process.cwd(), 'dist-bench', 'bench');
const args = process.argv.slice(2);
let failed = false;
for (const [script, scriptArgs] of [
  ['replay.bench.js', args],
  ['asset-upload-memory.js', []],
  ['repository-transfer.bench.js', []],
  ['repository-shared-files.bench.js', []],
  ['encryption.bench.js', []],
  ['incremental.bench.js', []],
  ['diff.bench.js', []],
  ['restore-resume.bench.js', []],
] as const) {
  console.log(`\n=== ${script} ===`);
  const result = spawnSync(process.execPath, [join(here, script), ...scriptArgs], { stdio: 'inherit' });
  if (result.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
