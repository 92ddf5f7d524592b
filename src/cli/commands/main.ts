import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { currentContext, DEFAULT_URL, withGlobalOptions } from '../cli-context.js';
import { registerApps } from './apps.command.js';
import { registerArchive } from './archive.command.js';
import { registerBackup } from './backup.command.js';
import { registerDiff } from './diff.command.js';
import { registerPolicy } from './policy.command.js';
import { registerRecipient } from './recipient.command.js';
import { registerRepository } from './repository.command.js';
import { registerRestore } from './restore.command.js';
import { registerRollback } from './rollback.command.js';
import { CliError, EXIT_CODES_HELP, ExitCode, type ExitCodeValue } from '../exit-codes.js';
import { Output } from '../output.js';

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The bounds HEAP_GROWING_PERCENT takes, as the help states them (from platform/heap/heap-growth.ts). */
export interface HeapGrowthBounds {
  DEFAULT_HEAP_GROWING_PERCENT: number;
  MAX_HEAP_GROWING_PERCENT: number;
}

/**
 * The program; `heap`: the heap module's own bounds, so the help cannot drift from what is
 * checked. Passed in rather than imported: that module is loaded when the CLI runs, and the
 * start's static imports stay the CLI's and the contract's (test/unit/cli-imports.spec.ts).
 */
export function buildProgram(heap: HeapGrowthBounds): Command {
  const program = new Command('appvault')
    .description('The AppVault command line: backups, restores and rollbacks over the HTTP API, and offline archive checks.')
    .version(version(), '-V, --version')
    // `restore --url` is the archive's address; the program's options are read before the command name.
    .enablePositionalOptions()
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .configureHelp({ sortSubcommands: false, showGlobalOptions: false })
    .addHelpText(
      'after',
      `
Environment:
  APPVAULT_URL    the server's address (default ${DEFAULT_URL}); --url wins
  APPVAULT_TOKEN  the API key; --token wins (an admin's key is in <DATA_DIR>/admin-token)
  HEAP_GROWING_PERCENT  how far the heap may grow past what is live (0-${heap.MAX_HEAP_GROWING_PERCENT}, default ${heap.DEFAULT_HEAP_GROWING_PERCENT}; 0: V8's own)

Output: results on stdout (--json: one JSON document, nothing else there); progress and messages on
stderr (bars on a terminal; one plain line per change otherwise or with --no-progress).

${EXIT_CODES_HELP}

Run \`appvault <command> --help\` for a command's options.`,
    );
  withGlobalOptions(program);
  registerApps(program);
  registerBackup(program);
  registerRestore(program);
  registerRollback(program);
  registerPolicy(program);
  registerRepository(program);
  registerRecipient(program);
  registerArchive(program);
  registerDiff(program);
  return program;
}

/** Runs the CLI with `argv` (as process.argv) and answers the exit code; it never exits itself. */
export async function run(argv: readonly string[]): Promise<ExitCodeValue> {
  // `appvault … | head` closes stdout early: that ends the output, it is not an error to report.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  // An offline diff or check reads whole archives: its garbage stays near what is live, as the server's.
  // Loaded when run, like the offline commands' code, so the command's start stays small.
  const heap = await import('../../platform/heap/heap-growth.js');
  const program = buildProgram(heap);
  try {
    const percent = heap.readHeapGrowingPercent(process.env['HEAP_GROWING_PERCENT']);
    if (typeof percent !== 'number') throw new CliError(percent.problem, ExitCode.usage);
    heap.applyHeapGrowth(percent);
    await program.parseAsync([...argv]);
    return ExitCode.ok;
  } catch (error) {
    return report(error);
  } finally {
    currentContext()?.output.close();
  }
}

function report(error: unknown): ExitCodeValue {
  if (error instanceof CommanderError) {
    // Commander printed its message (or the help) already; --help and --version end well.
    return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  }
  const context = currentContext();
  context?.output.close();
  // Messages quote the server and archives: they go out through Output, escaped, like the rest.
  const output = context?.output ?? new Output(false, false);
  if (error instanceof CliError) {
    if (output.json && !error.resultPrinted) output.result({ error: { message: error.message, exitCode: error.exitCode, status: error.status ?? null } }, []);
    output.error(error.message);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (output.json) output.result({ error: { message, exitCode: ExitCode.failed, status: null } }, []);
  output.error(message);
  if (process.env['APPVAULT_DEBUG'] && error instanceof Error) for (const line of (error.stack ?? '').split('\n')) output.note(line);
  return ExitCode.failed;
}
