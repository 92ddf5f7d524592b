import { join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { CliContext, byteCount, isoTime, positiveInteger, withGlobalOptions } from '../cli-context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { describeInclude } from '../include-options.js';
import { formatBytes, type Output, type Progress, table } from '../output.js';
import { type KeyOptions, withKeyOptions, withPlainArchive, withPlainChain } from '../key-options.js';

const DEFAULT_MAX_EXPANDED = 200 * 1024 ** 3;

export const maxExpandedOption = () =>
  new Option('--max-expanded-bytes <bytes>', "largest total uncompressed size to accept, as the server's MAX_RESTORE_EXPANDED_BYTES").argParser(byteCount).default(DEFAULT_MAX_EXPANDED, '200GiB');

/**
 * Runs an offline step; an archive that fails a check becomes exit code 1 with the restore's own
 * reason (in --json also `{ valid: false, reason }` on stdout).
 */
export async function offline<T>(output: Output, file: string, work: () => Promise<T>): Promise<T> {
  const { InvalidArchiveError } = await import('../../archive/archive-reader.js');
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof InvalidArchiveError)) throw error;
    output.result({ valid: false, file, reason: error.message }, []);
    throw new CliError(`${file} is not a valid archive: ${error.message}`, ExitCode.failed).reported();
  }
}

const time = (iso: string | null) => iso ?? '-';

/** The files `archive verify` reads: those given, or the archives (`.zip`, `.zip.age`) of the one folder given. */
async function chainFiles(paths: string[]): Promise<string[]> {
  const { readdir, stat } = await import('node:fs/promises');
  const [only] = paths;
  if (paths.length !== 1 || !only || !(await stat(only).catch(() => undefined))?.isDirectory()) return paths;
  const names = (await readdir(only)).filter((name) => name.endsWith('.zip') || name.endsWith('.zip.age')).sort();
  if (names.length === 0) throw new CliError(`${only} holds no archive (.zip or .zip.age)`, ExitCode.usage);
  return names.map((name) => join(only, name));
}

export function registerArchive(program: Command): void {
  const archive = program
    .command('archive')
    .description('check and describe archive files offline (no server needed)')
    .addHelpText(
      'after',
      `
These read the zip with the server's own archive reader and event checks; nothing is written
(verify keeps what it checked in a temporary file under the system's temp folder, removed after).
An encrypted archive (age, .zip.age) is opened with --identity FILE or --passphrase-file FILE:
decrypted and authenticated into a temporary folder of its own, removed afterwards.

Examples:
  appvault archive verify shop.zip
  appvault archive verify shop.zip.age --identity key.txt
  appvault archive verify full.zip monday.zip tuesday.zip      (an incremental chain, base first)
  appvault archive verify ./shop-backups/                       (the chain whose archives the folder holds)
  appvault archive inspect shop.zip --json
  appvault archive diff monday.zip tuesday.zip`,
    );

  withGlobalOptions(
    withKeyOptions(
      archive
        .command('verify <zip...>')
        .description('make every check a restore makes, writing nothing; exit 0 when valid, 1 (with the reason) when not; an incremental chain: its files, base first, or the folder that holds them')
        .addOption(new Option('--until-event <n>', 'check a restore up to event n').argParser(positiveInteger).conflicts('until'))
        .addOption(new Option('--until <time>', 'check a restore up to this ISO-8601 time').argParser(isoTime))
        .addOption(maxExpandedOption()),
    ),
    { url: false },
  ).action(async (zips: string[], options: { untilEvent?: number; until?: string; maxExpandedBytes: number } & KeyOptions, command: Command) => {
    const context = new CliContext(command);
    const { output } = context;
    const files = await chainFiles(zips.map((zip) => resolve(zip)));
    const zip = zips.join(' ');
    const { verifyArchive } = await import('../offline-archive.js');
    const { orderChain } = await import('../../archive/archive-chain.js');
    const progress: Progress = output.progress('verify');
    try {
      const { report, encrypted } = await offline(output, zip, () =>
        withPlainChain(files, options, async (links, encrypted) => ({
          encrypted,
          // One file is one archive; several are a chain, in the order given, or as their manifests link them when a folder gave them.
          report: await verifyArchive(links.length === 1 ? links[0]!.file : zips.length === 1 && files.length > 1 ? await orderChain(links, options) : links, {
            encrypted,
            maxExpandedBytes: options.maxExpandedBytes,
            untilEvent: options.untilEvent,
            until: options.until,
            onProgress: (phase, done, total) => progress.update({ phase: phase === 'scan' ? 'reading' : 'rehearsing the restore', done, total, unit: 'events', percent: ((phase === 'scan' ? 0 : 50) + (done / Math.max(total, 1)) * 50) }),
          }),
        })),
      );
      progress.stop();
      output.result({ file: zip, encrypted, ...report }, () => [
          report.links > 1
            ? `${zip}: a valid chain of ${report.links} archives (a full backup and its increments) of app ${report.app.name} (${report.app.id}), the last made ${report.created}; every link's backup id, SHA-256 and positions check out`
            : `${zip} is a valid archive of app ${report.app.name} (${report.app.id}), made ${report.created}`,
          ...(encrypted ? ['  encrypted (age): decrypted with the key given, every chunk authenticated'] : []),
          ...(report.include ? [`  partial: ${describeInclude(report.include)}; checked against selection.json`] : []),
          `  ${report.counts.events} events in ${report.counts.eventFiles} files, ${report.counts.assets} asset files, ${report.counts.users} users`,
          `  checked: every entry's size and SHA-256, ${report.checkedEvents} events against the catalog and their streams' rules, ${report.checkedFiles} file versions against their events`,
          ...report.missing.map((m) => `  warning: the archive lacks ${m.name} (${m.reason}); that file version will not be downloadable`),
          // What a restore would log about the events, such as references a partial archive does not hold.
          ...report.notes.map((note) => `  note: ${note}`),
      ]);
    } finally {
      progress.stop();
    }
  });

  withGlobalOptions(
    withKeyOptions(
      archive
        .command('inspect <zip>')
        .description('describe an archive: app, counts, schemas, time range, users, sizes by kind')
        .addOption(maxExpandedOption()),
    ),
    { url: false },
  ).action(async (zip: string, options: { maxExpandedBytes: number } & KeyOptions, command: Command) => {
    const context = new CliContext(command);
    const { inspectOffline } = await import('../offline-archive.js');
    const { report, encrypted } = await offline(context.output, zip, () =>
      withPlainArchive(resolve(zip), options, async (plain, encrypted) => ({ encrypted, report: await inspectOffline(plain, options.maxExpandedBytes) })),
    );
    context.output.result({ ...report, encrypted, file: zip }, () => {
      const lines = [
        `Archive ${zip} (${formatBytes(report.fileBytes)}${encrypted ? ' decrypted; encrypted with age' : ''}), format ${report.formatVersion}`,
        `  app:      ${report.app.name} (${report.app.id})`,
        ...(report.partial ? [`  partial:  ${describeInclude(report.include)}`] : []),
        `  made:     ${report.created} on installation ${report.source.installationId} (${report.source.eventStore}, position ${report.source.position})`,
        `  events:   ${report.counts.events} in ${report.counts.eventFiles} files, from ${time(report.timeRange.first)} to ${time(report.timeRange.last)}`,
        `  streams:  ${report.streams.app} app, ${report.streams.schema} schemas, ${report.streams.content} contents, ${report.streams.asset} assets`,
        `  files:    ${report.counts.assets} asset file versions${report.missing.length ? `, ${report.missing.length} missing` : ''}`,
        `  sizes:    events ${formatBytes(report.sizes.events)}, assets ${formatBytes(report.sizes.assets)}, other ${formatBytes(report.sizes.other)} (uncompressed)`,
        `  users:    ${report.counts.users}`,
      ];
      for (const user of report.users) lines.push(`    ${user.email}${user.displayName ? ` (${user.displayName})` : ''}`);
      if (report.schemas.length) {
        lines.push('  schemas:');
        lines.push(
          ...table(
            ['    NAME', 'FIELDS', 'CONTENTS', 'STATE'],
            report.schemas.map((s) => [`    ${s.name}`, String(s.fields), String(s.contents), s.deleted ? 'deleted' : 'live']),
          ),
        );
      }
      lines.push('  event types:');
      for (const [type, count] of Object.entries(report.eventTypes).sort((a, b) => b[1] - a[1])) lines.push(`    ${type.padEnd(24)} ${count}`);
      for (const warning of report.warnings) lines.push(`  warning: ${warning}`);
      return lines;
    });
  });

  withGlobalOptions(
    archive
      .command('diff <a> <b>')
      .description('what backup b adds to backup a of the same app, and whether b continues a')
      .addOption(maxExpandedOption())
      .addHelpText('after', "\nExit code 0 when b continues a (same app id, a's events are b's first ones), 1 when it does not or an archive is invalid."),
    { url: false },
  ).action(async (a: string, b: string, options: { maxExpandedBytes: number }, command: Command) => {
    const context = new CliContext(command);
    const { diffOffline } = await import('../offline-archive.js');
    const report = await offline(context.output, `${a} or ${b}`, () => diffOffline(resolve(a), resolve(b), options.maxExpandedBytes));
    const shown = { ...report, a: { ...report.a, file: a }, b: { ...report.b, file: b } };
    context.output.result(shown, () => {
      const lines = [
        `a: ${a}: app ${report.a.app.name}, ${report.a.events} events, ${report.a.assetFiles} file versions, made ${report.a.created}`,
        `b: ${b}: app ${report.b.app.name}, ${report.b.events} events, ${report.b.assetFiles} file versions, made ${report.b.created}`,
        report.continues ? 'b continues a: same app, and a\'s events are b\'s first ones' : `b does not continue a: ${report.reason}`,
        `events added: ${report.eventsAdded}`,
      ];
      for (const [type, count] of Object.entries(report.addedTypes).sort((x, y) => y[1] - x[1])) lines.push(`  ${type.padEnd(24)} ${count}`);
      lines.push(`asset file versions added: ${report.assetVersionsAdded.length}`);
      for (const name of report.assetVersionsAdded) lines.push(`  ${name}`);
      if (report.assetVersionsRemoved.length) {
        lines.push(`asset file versions only in a: ${report.assetVersionsRemoved.length}`);
        for (const name of report.assetVersionsRemoved) lines.push(`  ${name}`);
      }
      return lines;
    });
    if (!report.continues) throw new CliError(`${b} does not continue ${a}: ${report.reason}`, ExitCode.failed).reported();
  });
}
