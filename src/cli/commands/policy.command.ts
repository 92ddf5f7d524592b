import { type Command, Option } from 'commander';
import type { BackupPolicy } from '../../contract/policies.schemas.js';
import { CliContext, positiveInteger, repeated, withGlobalOptions } from '../cli-context.js';
import { describeInclude, includeOf, type IncludeOptions, withIncludeOptions } from '../include-options.js';

/** How often a scheduled run is full; nothing from a server too old to send fullEvery (the JSON says what it sent). */
function describeFull(policy: BackupPolicy): string[] {
  const every: unknown = policy.fullEvery;
  if (typeof every !== 'number') return [];
  const soonest = policy.incremental?.maxDays ? `, or sooner once the chain's full backup is ${policy.incremental.maxDays} days old` : '';
  return [`Full:      ${every <= 1 ? 'every run' : `1 run in ${every}, the ${every - 1} between incremental`} (fullEvery ${every})${soonest}`];
}

function describe(policy: BackupPolicy): string[] {
  const keep = (['keepLast', 'keepDaily', 'keepWeekly', 'keepMonthly'] as const)
    .filter((rule) => policy[rule] !== undefined && policy[rule] !== null)
    .map((rule) => `${rule} ${String(policy[rule])}`);
  return [
    `App:       ${policy.appName}`,
    `Schedule:  ${policy.schedule} (UTC)`,
    `Holds:     ${policy.include ? `partial: ${describeInclude(policy.include)}` : 'the whole app'}`,
    `To:        ${(policy.repositories ?? ['local']).join(', ')}${policy.objectLock ? ` (copies locked ${policy.objectLock.days} days, ${policy.objectLock.mode}, where the repository can lock)` : ''}`,
    ...describeFull(policy),
    `Keep:      ${keep.length > 0 ? keep.join(', ') : 'no rules: the per-app backup limit applies'}`,
    `Next run:  ${policy.nextRun}`,
    `Last run:  ${policy.lastRun ?? 'never'}${policy.lastBackupId ? ` (backup ${policy.lastBackupId})` : ''}`,
    ...(policy.lastError ? [`Last error: ${policy.lastError}`] : []),
    ...(policy.lastWarning ? [`Warning:   ${policy.lastWarning}`] : []),
  ];
}

interface SetOptions extends IncludeOptions {
  schedule: string;
  keepLast?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  repository?: string[];
  lockDays?: number;
  lockMode?: 'GOVERNANCE' | 'COMPLIANCE';
  fullEvery?: number;
}

export function registerPolicy(program: Command): void {
  const policy = program
    .command('policy')
    .description('scheduled backups of an app and how many of them to keep')
    .addHelpText(
      'after',
      '\nExamples:\n  appvault policy set shop --schedule "0 3 * * *" --keep-daily 7 --keep-weekly 4\n  appvault policy set shop --schedule "0 3 * * *" --keep-daily 14 --full-every 7\n  appvault policy set shop --schedule "0 3 * * *" --keep-daily 7 --repository local --repository offsite --lock-days 30\n  appvault policy set shop --schedule "0 * * * *" --schemas products --assets none --keep-last 24\n  appvault policy show shop\n  appvault policy delete shop',
    );
  withGlobalOptions(
    withIncludeOptions(
      policy
        .command('set <app>')
        .description("set the app's backup policy (replaces the one it has)")
        .requiredOption('--schedule <cron>', 'when to back up: a cron expression in UTC, 5 or 6 fields')
        .option('--keep-last <n>', 'keep the newest n scheduled backups', positiveInteger)
        .option('--keep-daily <n>', 'keep the newest scheduled backup of each of the last n days that have one', positiveInteger)
        .option('--keep-weekly <n>', 'the same per ISO week', positiveInteger)
        .option('--keep-monthly <n>', 'the same per month', positiveInteger)
        .option('--full-every <n>', 'every nth scheduled backup is full, the ones between incremental (1, the default: every one full)', positiveInteger)
        .option('--repository <name>', 'keep a copy of each backup in this repository (repeat for several; default: local)', repeated)
        .option('--lock-days <n>', 'lock each copy for n days where the repository can (S3 Object Lock)', positiveInteger)
        .addOption(new Option('--lock-mode <mode>', 'with --lock-days').choices(['GOVERNANCE', 'COMPLIANCE']).default('GOVERNANCE')),
    )
      .addHelpText('after', '\nWith --schemas, --contents or --assets each scheduled backup is partial; without them it holds the whole app.')
      .action(async (app: string, options: SetOptions, command: Command) => {
        const context = new CliContext(command);
        const include = includeOf(options);
        const body = {
          schedule: options.schedule,
          keepLast: options.keepLast,
          keepDaily: options.keepDaily,
          keepWeekly: options.keepWeekly,
          keepMonthly: options.keepMonthly,
          ...(options.fullEvery !== undefined ? { fullEvery: options.fullEvery } : {}),
          ...(include ? { include } : {}),
          ...(options.repository ? { repositories: options.repository } : {}),
          ...(options.lockDays !== undefined ? { objectLock: { mode: options.lockMode ?? 'GOVERNANCE', days: options.lockDays } } : {}),
        };
        const saved = await context.client.call('backupPolicy.put', { params: { app }, body });
        context.output.result(saved, () => describe(saved));
      }),
  );
  withGlobalOptions(
    policy
      .command('show <app>')
      .description("show the app's backup policy, its next run and the last one's outcome")
      .action(async (app: string, _options: unknown, command: Command) => {
        const context = new CliContext(command);
        const found = await context.client.call('backupPolicy.get', { params: { app } }, { 404: `App "${app}" has no backup policy (or does not exist); set one with appvault policy set ${app} --schedule …` });
        context.output.result(found, () => describe(found));
      }),
  );
  withGlobalOptions(
    policy
      .command('delete <app>')
      .description("remove the app's backup policy (its backups are kept)")
      .action(async (app: string, _options: unknown, command: Command) => {
        const context = new CliContext(command);
        await context.client.call('backupPolicy.delete', { params: { app } }, { 404: `App "${app}" has no backup policy (or does not exist)` });
        context.output.result({ deleted: app }, [`Backup policy of ${app} removed; its backups are kept.`]);
      }),
  );
}
