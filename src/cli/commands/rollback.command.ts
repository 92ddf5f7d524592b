import { diffLines } from '../diff-lines.js';
import { type Command, Option } from 'commander';
import { LISTED_PER_KIND } from '../../contract/api-values.js';
import type { KindChanges, Rollback, RollbackChanges, RollbackPreflight, RollbackTarget } from '../../contract/rollbacks.schemas.js';
import type { ErrorHints } from '../api-client.js';
import { CliContext, isoTime, positiveInteger, withGlobalOptions } from '../cli-context.js';
import { CliError, ExitCode, usageError } from '../exit-codes.js';
import { followWithProgress } from '../job-follower.js';
import { table } from '../output.js';

interface StartOptions {
  backup?: string;
  untilEvent?: number;
  until?: string;
  dryRun?: boolean;
  follow?: boolean;
}

/** Ids shown per kind and change in text; --json has every id the server lists. */
const FIRST_IDS = 5;

const KINDS = ['schemas', 'contents', 'assets'] as const satisfies readonly (keyof RollbackChanges)[];
const CHANGES = ['created', 'changed', 'deleted'] as const satisfies readonly (keyof KindChanges)[];

function hintsFor(app: string): ErrorHints {
  return {
    403: "Only the app's Owners and admins roll it back or see its rollbacks: use an Owner's or an admin's key",
    404: `See the apps with \`appvault apps list\` and the app's backups with \`appvault backup list ${app}\``,
    409: `See what runs with \`appvault backup list ${app}\` and \`appvault rollback list ${app}\`, and start the rollback again once it has ended`,
  };
}

function describeTarget(target: RollbackTarget): string {
  // The event number is known to servers that report it; the request's own terms are enough otherwise.
  const at = typeof target.event === 'number' ? ` (event ${target.event})` : '';
  if (target.backupId) return `backup ${target.backupId}${at}`;
  if (target.until) return `${target.until}${at}`;
  return `event ${target.untilEvent ?? target.event}`;
}

/** The flag that asks for `target` again, for the next command a person may run. */
function targetFlag(target: RollbackTarget): string {
  if (target.backupId) return `--backup ${target.backupId}`;
  if (target.until) return `--until ${target.until}`;
  return `--until-event ${target.untilEvent ?? target.event}`;
}

const countsText = (counts: { created: number; changed: number; deleted: number }) => `${counts.created} created, ${counts.changed} changed, ${counts.deleted} deleted`;

/** A kind's count from its list; lists stop at LISTED_PER_KIND ids, so a full one may hold back more. */
const countOf = (ids: string[]) => (ids.length >= LISTED_PER_KIND ? `${ids.length}+` : String(ids.length));

function firstIds(ids: string[]): string {
  const shown = ids.slice(0, FIRST_IDS).join(', ');
  if (ids.length <= FIRST_IDS) return shown;
  return `${shown} and ${ids.length >= LISTED_PER_KIND ? 'more' : `${ids.length - FIRST_IDS} more`}`;
}

/** Per kind: how many are created, changed and deleted, and (with `ids`) the first of each. */
function changeLines(changes: RollbackChanges, indent: string, ids: boolean): string[] {
  const lines: string[] = [];
  for (const kind of KINDS) {
    const of = changes[kind];
    lines.push(`${indent}${`${kind}:`.padEnd(10)}${CHANGES.map((change) => `${countOf(of[change])} ${change}`).join(', ')}`);
    if (!ids) continue;
    for (const change of CHANGES) if (of[change].length > 0) lines.push(`${indent}  ${change}: ${firstIds(of[change])}`);
  }
  return lines;
}

function describeDryRun(report: RollbackPreflight): string[] {
  const total = report.counts.created + report.counts.changed + report.counts.deleted;
  const lines = [`Dry run: a rollback of app ${report.app.name} to ${describeTarget(report.target)}; nothing was written.`];
  if (total === 0) {
    lines.push(`  Nothing would change: the app is as it was then. A rollback would still record itself in the history (${report.events} event${report.events === 1 ? '' : 's'}).`);
    return lines;
  }
  lines.push(...changeLines(report.changes, '  ', true));
  lines.push(`  in all:   ${countsText(report.counts)}; it would take a safety backup, then append ${report.events} events (its marker included)`);
  lines.push('  what changed since then (the rollback takes back schemas, contents and assets; contributors stay):');
  lines.push(...diffLines(report.diff, '    ', () => (report.target.backupId ? `more: appvault diff ${report.target.backupId} live --app ${report.app.name}` : 'more changes than shown')));
  lines.push(`Roll back with \`appvault rollback start ${report.app.name} ${targetFlag(report.target)}\``);
  return lines;
}

function describeRollback(job: Rollback, withLog: boolean): string[] {
  const lines = [
    `Rollback ${job.id} of app ${job.appName} (${job.appId})`,
    `  status:   ${job.status}${job.phase ? ` (${job.phase})` : ''}${typeof job.percent === 'number' && job.status === 'Running' ? ` ${Math.floor(job.percent)}%` : ''}`,
    `  target:   ${describeTarget(job.target)}`,
    `  safety backup: ${job.safetyBackupId ?? '-'}`,
    `  created:  ${job.created}`,
    `  started:  ${job.started ?? '-'}`,
    `  completed: ${job.completed ?? '-'}`,
    `  changes:  ${job.counts ? `${countsText(job.counts)}; ${job.appendedEvents} events appended` : 'not planned yet'}`,
  ];
  if (job.changes) lines.push(...changeLines(job.changes, '    ', false));
  if (job.error) lines.push(`  error:    ${job.error}`);
  if (withLog) for (const line of job.log ?? []) lines.push(`  ${line.at}  ${line.message}`);
  return lines;
}

function completedText(job: Rollback): string[] {
  const changes = job.counts ? `${countsText(job.counts)} (${job.appendedEvents} events appended)` : `${job.appendedEvents} events appended`;
  const lines = [`Rolled back app ${job.appName} to ${describeTarget(job.target)}: ${changes}`];
  if (job.safetyBackupId) lines.push(`The app as it was before is in safety backup ${job.safetyBackupId}; to undo: \`appvault rollback start ${job.appName} --backup ${job.safetyBackupId}\``);
  return lines;
}

function failedError(job: Rollback): CliError {
  return new CliError(`Rollback ${job.id} of app ${job.appName} failed: ${job.error ?? 'no reason given'} (its log: \`appvault rollback show ${job.appName} ${job.id} --log\`)`, ExitCode.failed);
}

export function registerRollback(program: Command): void {
  const rollback = program
    .command('rollback')
    .description("bring an app back to one of its backups or a point in its history, in place, and list its rollbacks (Owners, admins)")
    .addHelpText(
      'after',
      `
A rollback keeps the app's id, name, contributors, backups and history: it appends the events that
bring every schema, content and asset back, after a safety backup of the app as it is. Writes to
the app are refused while it runs. Nothing is lost: a rollback can itself be rolled back.

Examples:
  appvault rollback start shop --backup 3f2a9c1b-... --dry-run
  appvault rollback start shop --until 2026-11-22T10:00:00Z --follow
  appvault rollback list shop
  appvault rollback show shop 7c41d0e2-... --log`,
    );

  withGlobalOptions(
    rollback
      .command('start <app>')
      .description('roll an app back (answers at once; --follow follows the job until it ends, --dry-run only reports)')
      .addOption(new Option('--backup <id>', 'to the state of this Completed backup of the whole app').conflicts(['untilEvent', 'until']))
      .addOption(new Option('--until-event <n>', "to the state after the app's event n").argParser(positiveInteger).conflicts('until'))
      .addOption(new Option('--until <time>', 'to the state at this ISO-8601 time').argParser(isoTime))
      .addOption(new Option('--dry-run', 'report per kind what would be created, changed and deleted, writing nothing').conflicts('follow'))
      .option('--follow', 'follow the rollback until it is Completed or Failed')
      .action(async (app: string, options: StartOptions, command: Command) => {
        const context = new CliContext(command);
        const { client, output } = context;
        const target = options.backup !== undefined ? { backupId: options.backup } : options.untilEvent !== undefined ? { untilEvent: options.untilEvent } : options.until !== undefined ? { until: options.until } : undefined;
        if (!target) throw usageError('Say what to roll back to: --backup <id>, --until-event <n> or --until <time> (exactly one)');
        const hints = hintsFor(app);
        if (options.dryRun) {
          const report = await client.call('rollbacks.start', { params: { app }, body: { ...target, dryRun: true } }, hints);
          if (!('dryRun' in report)) throw new CliError('The server started a rollback instead of a dry run', ExitCode.unavailable);
          output.result(report, () => describeDryRun(report));
          return;
        }
        const job = await client.call('rollbacks.start', { params: { app }, body: target }, hints);
        if ('dryRun' in job) throw new CliError('The server answered with a dry run; no rollback was started', ExitCode.unavailable);
        if (!options.follow) {
          output.result(job, [`Rollback ${job.id} of app ${job.appName} is ${job.status}; follow it with \`appvault rollback show ${app} ${job.id} --follow\` (or pass --follow)`]);
          return;
        }
        const ended = await followWithProgress(client, output, 'rollback', job, { route: 'rollbacks.get', params: { app, id: job.id } }, hints);
        output.result(ended, () => (ended.status === 'Completed' ? completedText(ended) : describeRollback(ended, true)));
        if (ended.status === 'Failed') throw failedError(ended).reported();
      }),
  );

  withGlobalOptions(
    rollback
      .command('list <app>')
      .description("list an app's rollbacks, newest first, every page")
      .action(async (app: string, _options: unknown, command: Command) => {
        const context = new CliContext(command);
        const found = await context.client.listAll('rollbacks.list', { params: { app } }, hintsFor(app));
        context.output.result(found, () =>
          found.items.length === 0
            ? ['No rollbacks.']
            : table(
                ['ID', 'STATUS', 'CREATED', 'TARGET', 'CHANGES', 'SAFETY BACKUP'],
                found.items.map((r) => [r.id, r.status, r.created, describeTarget(r.target), r.counts ? countsText(r.counts) : '-', r.safetyBackupId ?? '-']),
              ),
        );
      }),
  );

  withGlobalOptions(
    rollback
      .command('show <app> <id>')
      .description('show one rollback: its target, safety backup and changes')
      .option('--log', 'with its log')
      .option('--follow', 'follow it until it ends')
      .action(async (app: string, id: string, options: { log?: boolean; follow?: boolean }, command: Command) => {
        const context = new CliContext(command);
        const ref = { route: 'rollbacks.get', params: { app, id } } as const;
        const hints = { ...hintsFor(app), 404: `See the app's rollbacks with \`appvault rollback list ${app}\`` };
        let job = await context.client.call(ref.route, ref, hints);
        if (options.follow) job = await followWithProgress(context.client, context.output, 'rollback', job, ref, hints);
        context.output.result(job, () => describeRollback(job, options.log === true));
        if (options.follow && job.status === 'Failed') throw failedError(job).reported();
      }),
  );
}
