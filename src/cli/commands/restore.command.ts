import { diffLines } from '../diff-lines.js';
import { type Command, Option } from 'commander';
import type { Restore, RestorePreflight } from '../../contract/restores.schemas.js';
import type { ErrorHints } from '../api-client.js';
import { CliContext, isoTime, positiveInteger, withGlobalOptions } from '../cli-context.js';
import { CliError, ExitCode, usageError } from '../exit-codes.js';
import { describeInclude } from '../include-options.js';
import { followWithProgress } from '../job-follower.js';
import { table } from '../output.js';
import { uploadRestore } from '../restore-upload.js';
import { type KeyOptions, keyTexts, withKeyOptions } from '../key-options.js';

interface RestoreOptions extends KeyOptions {
  file?: string;
  url?: string;
  backup?: string;
  fromRepository?: string;
  key?: string;
  name?: string;
  dryRun?: boolean;
  untilEvent?: number;
  until?: string;
  follow?: boolean;
}

const HINTS: ErrorHints = {
  403: 'Only admins restore: use an admin\'s key',
  404: 'See the backups with `appvault backup list` (the copies a repository holds: GET /api/repositories/{id}/backups)',
  409: 'Pass another --name if the name is taken or reserved; if another restore runs, see `appvault restore list`',
};

function describeRestore(job: Restore, withLog: boolean): string[] {
  const lines = [
    `Restore ${job.id} from ${job.source}`,
    `  status:   ${job.status}${job.phase ? ` (${job.phase})` : ''}${typeof job.percent === 'number' && job.status === 'Running' ? ` ${Math.floor(job.percent)}%` : ''}`,
    `  app:      ${job.name ?? '-'}${job.appId ? ` (${job.appId})` : ''}`,
    ...(job.include ? [`  partial:  ${describeInclude(job.include)}`] : []),
    `  created:  ${job.created}`,
    `  started:  ${job.started ?? '-'}`,
    `  completed: ${job.completed ?? '-'}`,
    `  restored: ${job.restoredEvents}/${job.eventCount} events, ${job.restoredAssets} files`,
  ];
  if (job.error) lines.push(`  error:    ${job.error}`);
  if (withLog) for (const line of job.log ?? []) lines.push(`  ${line.at}  ${line.message}`);
  return lines;
}

function describePreflight(report: RestorePreflight): string[] {
  const lines = [`Dry run of a restore from ${report.source}: ${report.valid ? 'it would succeed' : 'it would fail'}; nothing was written.`];
  if (report.error) lines.push(`  error:    ${report.error}`);
  if (report.sizeBytes !== null) lines.push(`  archive:  ${report.sizeBytes} bytes${report.archive ? `, made ${report.archive.created}` : ''}${report.encrypted ? ', encrypted (age)' : ''}`);
  if (report.app) lines.push(`  app:      ${report.app.name} (${report.app.id})${report.partial ? ` (partial: ${describeInclude(report.include!)})` : ''}`);
  if (report.events) lines.push(`  events:   ${report.events.toRestore} of ${report.events.inArchive} to restore, ${report.files ?? 0} files`);
  if (report.users) lines.push(`  users:    ${report.users.mapped.length} mapped by email, ${report.users.created.length} to create`);
  if (report.name) lines.push(`  name:     ${report.name.value}: ${report.name.available ? 'free' : (report.name.reason ?? 'taken')}`);
  for (const warning of report.warnings) lines.push(`  warning:  ${warning}`);
  for (const missing of report.missing) lines.push(`  missing:  ${missing.name} (${missing.reason})`);
  if (report.diff && report.app) {
    lines.push(`  against the live app ${report.app.name} (from the archive to the app now):`);
    lines.push(...diffLines(report.diff, '    ', () => 'more changes than shown (appvault diff <backup id> live --app <app> pages them all)'));
  }
  return lines;
}

function failedError(job: Restore): CliError {
  if (job.status === 'Interrupted') {
    return new CliError(
      `Restore ${job.id} is Interrupted${job.error ? `: ${job.error}` : ''}; resume it with \`appvault restore resume ${job.id}\` or cancel it with \`appvault restore cancel ${job.id}\``,
      ExitCode.failed,
    );
  }
  return new CliError(`Restore ${job.id} failed: ${job.error ?? 'no reason given'} (its log: \`appvault restore show ${job.id} --log\`)`, ExitCode.failed);
}

/** Whether a followed restore ended otherwise than Completed. */
const unfinished = (job: Restore) => job.status === 'Failed' || job.status === 'Interrupted';

export function registerRestore(program: Command): void {
  const restore = withKeyOptions(program
    .command('restore')
    .description('restore an app from an archive file, a URL, a stored backup or a copy in a backup repository (admins), and list restores')
    .addOption(new Option('--file <zip>', 'upload this archive (streamed from disk)').conflicts(['url', 'backup', 'fromRepository']))
    .addOption(new Option('--url <url>', "the archive's URL, which the server downloads (the server's own address: APPVAULT_URL, or --url before `restore`)").conflicts(['backup', 'fromRepository']))
    .addOption(new Option('--backup <id>', 'a backup stored on the server').conflicts('fromRepository'))
    .option('--from-repository <name>', 'a copy in this backup repository (with --key), also one another installation wrote')
    .option('--key <key>', "the copy's key in the repository: appvault/{app}/{backup id}.zip")
    .option('--name <name>', "the new app's name (default: the name in the archive)")
    .addOption(new Option('--until-event <n>', 'restore the app as it was after event n').argParser(positiveInteger).conflicts('until'))
    .addOption(new Option('--until <time>', 'restore the app as it was at this ISO-8601 time').argParser(isoTime))
    .addOption(new Option('--dry-run', 'fetch and check the archive as a restore would and say what it would do, writing nothing').conflicts('follow'))
    .option('--follow', 'follow the restore until it is Completed or Failed'))
    .addHelpText(
      'after',
      `
An encrypted archive (age) is opened with --identity FILE or --passphrase-file FILE: the key goes
to the server in the request, for this restore only (never stored or logged), or nowhere when the
archive was encrypted to the server's own recipient (GET /api/installation/recipient).

Examples:
  appvault restore --backup 3f2a9c1b-... --name shop-copy --follow
  appvault restore --file shop.zip.age --identity key.txt --name shop-copy --follow
  appvault restore --file shop.zip --name shop-copy --until-event 1200 --follow
  appvault restore --from-repository offsite --key appvault/shop/3f2a9c1b-....zip --dry-run
  appvault --url http://appvault:8080 restore --url https://files.example.com/shop.zip`,
    )
    .action(async (options: RestoreOptions, command: Command) => {
      const context = new CliContext(command);
      const { client, output } = context;
      const sources = [options.file, options.url, options.backup, options.fromRepository].filter((s) => s !== undefined).length;
      if (sources !== 1) throw usageError('Say what to restore: --file <zip>, --url <url>, --backup <id> or --from-repository <name> --key <key> (exactly one)');
      if ((options.fromRepository === undefined) !== (options.key === undefined)) throw usageError('--from-repository and --key go together: the repository and the key of the copy in it');
      const pointInTime = { ...(options.untilEvent !== undefined ? { untilEvent: options.untilEvent } : {}), ...(options.until !== undefined ? { until: options.until } : {}) };
      const keys = await keyTexts(options);
      let answer: Restore | RestorePreflight;
      if (options.file !== undefined) {
        const fields: Record<string, string> = { ...keys };
        if (options.name !== undefined) fields['name'] = options.name;
        if (options.untilEvent !== undefined) fields['untilEvent'] = String(options.untilEvent);
        if (options.until !== undefined) fields['until'] = options.until;
        if (options.dryRun) fields['dryRun'] = 'true';
        answer = await uploadRestore(client, options.file, fields, output, HINTS);
      } else {
        const source =
          options.url !== undefined ? { url: options.url } : options.fromRepository !== undefined ? { repository: options.fromRepository, key: options.key! } : { backupId: options.backup! };
        const body = { ...source, ...(options.name !== undefined ? { name: options.name } : {}), ...pointInTime, ...keys, ...(options.dryRun ? { dryRun: true } : {}) };
        answer = await client.call('restores.start', { body }, HINTS);
      }
      if (options.dryRun) {
        if (!('dryRun' in answer)) throw new CliError(`The server started restore ${answer.id} instead of a dry run`, ExitCode.unavailable);
        const report = answer;
        output.result(report, () => describePreflight(report));
        if (!report.valid) throw new CliError(`The restore would fail: ${report.error ?? report.name?.reason ?? 'see the report'}`, ExitCode.failed).reported();
        return;
      }
      if ('dryRun' in answer) throw new CliError('The server answered with a dry run; no restore was started', ExitCode.unavailable);
      const job = answer;
      if (!options.follow) {
        output.result(job, [`Restore ${job.id} is ${job.status}; follow it with \`appvault restore show ${job.id}\` (or pass --follow)`]);
        return;
      }
      const ended = await followWithProgress(client, output, 'restore', job, { route: 'restores.get', params: { id: job.id } }, HINTS);
      const partial = ended.include ? ` (partial: ${describeInclude(ended.include)})` : '';
      output.result(ended, () => (ended.status === 'Completed' ? [`Restored app ${ended.name} (${ended.appId})${partial}: ${ended.restoredEvents} events, ${ended.restoredAssets} files`] : describeRestore(ended, true)));
      if (unfinished(ended)) throw failedError(ended).reported();
    });
  withGlobalOptions(restore, { url: false });

  withGlobalOptions(
    withKeyOptions(
      restore
        .command('resume <id>')
        .description('continue an Interrupted restore from where it stopped (its journal); nothing it wrote is written again')
        .option('--follow', 'follow it until it ends'),
    )
      .addHelpText('after', '\nA key (--identity, --passphrase-file) is needed only for an encrypted archive the restore had not decrypted when it stopped.')
      .action(async (id: string, options: KeyOptions & { follow?: boolean }, command: Command) => {
        const context = new CliContext(command);
        const hints = { ...HINTS, 404: 'See the restores with `appvault restore list`', 409: 'Only an Interrupted restore resumes, and only while no other restore runs (`appvault restore list`)' };
        const body = await keyTexts(options);
        let job = await context.client.call('restores.resume', { params: { id }, body }, hints);
        if (options.follow) job = await followWithProgress(context.client, context.output, 'restore', job, { route: 'restores.get', params: { id } }, hints);
        context.output.result(job, () => (job.status === 'Completed' ? [`Restored app ${job.name} (${job.appId}): ${job.restoredEvents} events, ${job.restoredAssets} files`] : options.follow ? describeRestore(job, true) : [`Restore ${job.id} is ${job.status} again; follow it with \`appvault restore show ${job.id} --follow\``]));
        if (options.follow && unfinished(job)) throw failedError(job).reported();
      }),
  );

  withGlobalOptions(
    restore
      .command('cancel <id>')
      .description('cancel an Interrupted restore: its app, files, the users it created, its name reservation and its archive are removed')
      .action(async (id: string, _options: unknown, command: Command) => {
        const context = new CliContext(command);
        const hints = { ...HINTS, 404: 'See the restores with `appvault restore list`', 409: 'Only an Interrupted restore is cancelled, and only while no other restore runs' };
        const job = await context.client.call('restores.cancel', { params: { id } }, hints);
        context.output.result(job, [`Cancelled restore ${job.id}: nothing of it remains, and the name ${job.name ?? '(none)'} is free again`]);
      }),
  );

  withGlobalOptions(
    restore
      .command('list')
      .description('list the restores, newest first, every page')
      .action(async (_options: unknown, command: Command) => {
        const context = new CliContext(command);
        const found = await context.client.listAll('restores.list', {}, HINTS);
        context.output.result(found, () =>
          found.items.length === 0
            ? ['No restores.']
            : table(
                ['ID', 'STATUS', 'NAME', 'CREATED', 'EVENTS', 'SOURCE'],
                found.items.map((r) => [r.id, r.status, r.name ?? '-', r.created, `${r.restoredEvents}/${r.eventCount}`, r.source]),
              ),
        );
      }),
  );

  withGlobalOptions(
    restore
      .command('show <id>')
      .description('show one restore')
      .option('--log', 'with its log')
      .option('--follow', 'follow it until it ends')
      .action(async (id: string, options: { log?: boolean; follow?: boolean }, command: Command) => {
        const context = new CliContext(command);
        const ref = { route: 'restores.get', params: { id } } as const;
        const hints = { ...HINTS, 404: 'See the restores with `appvault restore list`' };
        let job = await context.client.call(ref.route, ref, hints);
        if (options.follow) job = await followWithProgress(context.client, context.output, 'restore', job, ref, hints);
        context.output.result(job, () => describeRestore(job, options.log === true));
        if (options.follow && unfinished(job)) throw failedError(job).reported();
      }),
  );
}
