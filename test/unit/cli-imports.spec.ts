import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The CLI starts in about a tenth of a second; zod alone would add about 60 ms. Its client uses
 * the contract's schemas as types only and its route table as plain data, so the modules a start
 * loads (the static imports from dist/cli/commands/main.js, which the test run builds first) hold no zod.
 * Offline commands load the server's archive code when they run (dynamic imports), not at start.
 */
function staticGraph(entry: string): { files: string[]; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [resolve(entry)];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/^(?:import|export)\s+(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm)) {
      if (specifier!.startsWith('.')) pending.push(resolve(dirname(file), specifier!));
      else packages.add(specifier!.split('/').slice(0, specifier!.startsWith('@') ? 2 : 1).join('/'));
    }
  }
  return { files: [...files].map((file) => relative(resolve('dist'), file)).sort(), packages };
}

describe('what the CLI loads at start', () => {
  const { files, packages } = staticGraph('dist/cli/commands/main.js');

  it('follows the CLI and its client', () => {
    expect(files).toEqual(expect.arrayContaining(['cli/commands/main.js', 'cli/api-client.js', 'contract/client/api-client.js', 'contract/client/job-events.js', 'contract/api-routes.js']));
  });

  it('loads no zod and no schema module: the contract reaches it as types and plain data', () => {
    expect([...packages]).not.toContain('zod');
    expect(files.filter((file) => file.endsWith('.schemas.js'))).toEqual([]);
    expect(files.filter((file) => !file.startsWith('cli/') && !file.startsWith('contract/') && !file.startsWith('platform/text/'))).toEqual([]);
  });
});
