import { existsSync } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { backupRoutes } from '../../contract/api-routes.js';
import type { Backup, BackupCopy } from '../../contract/backups.schemas.js';
import type { JobRef } from '../../contract/client/job-events.js';
import type { CliApi, ErrorHints } from '../api-client.js';
import { downloadArchive, type DownloadResult, sha256Of } from '../archive-download.js';
import { decryptWithOptions, type KeyOptions, withKeyOptions } from '../key-options.js';
import { CliContext, duration, repeated, withGlobalOptions } from '../cli-context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { describeInclude, includeOf, type IncludeOptions, withIncludeOptions } from '../include-options.js';
import { followWithProgress } from '../job-follower.js';
import { formatBytes, type Output, table } from '../output.js';
import { fileInFolder, safeFileName } from '../safe-file-name.js';

/** A backup's job: through its app (Owner/Developer keys), or by id alone (admins). */
const backupJob = (id: string, app?: string): JobRef => (app ? { route: 'appBackups.get', params: { app, id } } : { route: 'backups.get', params: { id } });

function hintsFor(id: string, app?: string): ErrorHints {
  return {
    403: app ? `The key may not reach the backups of app ${app}: use an Owner's, Developer's or admin's key` : `Only admins reach a backup by its id alone: pass --app <app> to reach it through its app`,
    404: app ? `See the app's backups with \`appvault backup list ${app}\`` : 'See the backups with `appvault backup list`',
  };
}

/** Room for `backup-`, the time and `.zip` beside the app's name within the longest name. */
const APP_PART_BYTES = 80;

/**
 * The file name the server would give (`backup-{app}-{yyyy-MM-dd_HH-mm-ss}.zip`), so a second run
 * finds the partial file; made safe, since the server chose the app's name and the time
 * (safe-file-name.ts). A name with nothing usable left gives `backup-{id}.zip`.
 */
export function defaultFileName(backup: Backup, decrypted = false): string {
  const app = safeFileName(backup.appName, APP_PART_BYTES);
  const time = backup.created.slice(0, 19).replace('T', '_').replaceAll(':', '-');
  const extension = backup.encrypted && !decrypted ? '.zip.age' : '.zip';
  return (app && safeFileName(`backup-${app}-${time}${extension}`)) || safeFileName(`backup-${backup.id}${extension}`) || `backup${extension}`;
}

/** Who can open an encrypted backup, in a line. */
const describeEncryption = (backup: Backup) =>
  backup.encryption?.passphrase ? 'with a passphrase' : `to ${(backup.encryption?.recipients ?? []).map((recipient) => recipient.name ?? recipient.recipient).join(', ')}`;

function describeBackup(backup: Backup): string[] {
  const lines = [
    `Backup ${backup.id} of app ${backup.appName} (${backup.appId})`,
    `  status:   ${backup.status}${backup.phase ? ` (${backup.phase})` : ''}${typeof backup.percent === 'number' && backup.status === 'Running' ? ` ${Math.floor(backup.percent)}%` : ''}`,
    `  label:    ${backup.label || '-'}`,
    ...(backup.trigger ? [`  trigger:  ${backup.trigger}`] : []),
    ...(backup.include ? [`  partial:  ${describeInclude(backup.include)}`] : []),
    ...(backup.kind === 'incremental' && backup.baseArchive && backup.chain ? [`  incremental: from backup ${backup.baseArchive.id} (events after ${backup.baseArchive.events}); increment ${backup.chain.depth} of the chain from full backup ${backup.chain.full}`] : []),
    `  created:  ${backup.created}`,
    `  started:  ${backup.started ?? '-'}`,
    `  completed: ${backup.completed ?? '-'}`,
    `  contents: ${backup.eventCount} events, ${backup.assetCount} files, ${backup.userCount} users`,
    `  size:     ${formatBytes(backup.sizeBytes)} (${backup.sizeBytes} bytes)`,
    `  sha256:   ${backup.sha256 ?? '-'}`,
    ...(backup.encrypted ? [`  encrypted: age, ${describeEncryption(backup)} (size and SHA-256 are the encrypted file's)`] : []),
  ];
  if (backup.error) lines.push(`  error:    ${backup.error}`);
  for (const warning of backup.warnings ?? []) lines.push(`  warning:  ${warning}`);
  if (backup.repositories) lines.push(`  to:       ${backup.repositories.join(', ')}`);
  for (const copy of backup.copies ?? []) lines.push(...describeCopy(copy));
  return lines;
}

/** One copy: where it is and its state (written, last verified, locked), or why it failed. */
function describeCopy(copy: BackupCopy): string[] {
  const where = `  copy in ${copy.repository}: ${copy.key}`;
  if (copy.written === null) return [`${where}: FAILED: ${copy.error ?? 'no reason given'}`];
  const state = [`written ${copy.written}`, `verified ${copy.verified ?? 'never'}`, ...(copy.lockedUntil ? [`locked until ${copy.lockedUntil}`] : [])].join(', ');
  return [`${where} (${formatBytes(copy.sizeBytes)}; ${state})`, ...(copy.error ? [`    problem: ${copy.error}`] : [])];
}

/** The repositories a backup's copies are in, for a list: `local+offsite`, a failed one marked `!`. */
const copiesColumn = (backup: Backup) => (backup.copies ?? []).map((copy) => `${copy.repository}${copy.written === null || copy.error ? '!' : ''}`).join('+') || '-';

function failedError(backup: Backup): CliError {
  return new CliError(`Backup ${backup.id} of app ${backup.appName} failed: ${backup.error ?? 'no reason given'}`, ExitCode.failed);
}

function runningError(backup: Backup, app?: string): CliError {
  const show = `appvault backup show ${backup.id}${app ? ` --app ${app}` : ''}`;
  return new CliError(`Backup ${backup.id} is ${backup.status}; wait for it with \`${show}\` or use --wait`, ExitCode.conflict, 409);
}

/**
 * Waits for a backup (if asked), then streams its archive to disk and checks its SHA-256; with
 * `decrypt`, an encrypted archive is then decrypted (see decryptDownload).
 */
async function fetchArchive(
  client: CliApi,
  output: Output,
  backup: Backup,
  options: { app?: string; file?: string; wait: boolean; force: boolean; decrypt?: KeyOptions },
): Promise<{ backup: Backup; download: DownloadResult }> {
  const hints = hintsFor(backup.id, options.app);
  let job = backup;
  if (job.status === 'Scheduled' || job.status === 'Running') {
    if (!options.wait) throw runningError(job, options.app);
    job = await followWithProgress(client, output, 'backup', job, backupJob(job.id, options.app), hints);
  }
  if (job.status === 'Failed') throw failedError(job);
  // -o is the person's own path, taken as given; a name made from the server's answer stays in this folder.
  const decrypt = options.decrypt && job.encrypted ? options.decrypt : undefined;
  const file = options.file !== undefined ? resolve(options.file) : fileInFolder(process.cwd(), defaultFileName(job, decrypt !== undefined));
  if (!decrypt) {
    const download = await downloadArchive(client, job, options.app, { file, force: options.force }, output, { ...hints, 409: runningError(job, options.app).message });
    return { backup: job, download };
  }
  return { backup: job, download: await decryptDownload(client, output, job, { app: options.app, file, force: options.force, keys: decrypt, hints }) };
}

/**
 * `backup download --decrypt`: the encrypted archive is downloaded beside the target as
 * `<file>.age` (resumable, checked against the backup's size and SHA-256 like any download), then
 * decrypted into `<file>.part`, every chunk authenticated, which takes the name `<file>` only once
 * whole (never over an existing file without --force); the encrypted file is removed then.
 */
async function decryptDownload(
  client: CliApi,
  output: Output,
  backup: Backup,
  options: { app?: string; file: string; force: boolean; keys: KeyOptions; hints: ErrorHints },
): Promise<DownloadResult> {
  if (options.keys.identity === undefined && options.keys.passphraseFile === undefined) {
    throw new CliError(`Backup ${backup.id} is encrypted (${describeEncryption(backup)}); --decrypt needs --identity FILE or --passphrase-file FILE`, ExitCode.usage);
  }
  if (existsSync(options.file) && !options.force) throw new CliError(`${options.file} exists; pass --force to replace it, or -o another file`, ExitCode.usage);
  const sealed = `${options.file}.age`;
  const download = await downloadArchive(client, backup, options.app, { file: sealed, force: true }, output, { ...options.hints, 409: runningError(backup, options.app).message });
  const part = `${options.file}.part`;
  await rm(part, { force: true });
  try {
    await decryptWithOptions(sealed, part, options.keys);
  } catch (error) {
    if (error instanceof Error && error.name === 'EncryptedArchiveError') throw new CliError(`${sealed} could not be decrypted: ${error.message}; the encrypted archive is kept there`, ExitCode.failed);
    throw error;
  }
  await rename(part, options.file);
  await rm(sealed, { force: true });
  return { ...download, file: options.file, bytes: (await stat(options.file)).size, sha256: await sha256Of(options.file), decrypted: true };
}

const downloaded = (d: DownloadResult) =>
  d.decrypted
    ? `Downloaded and decrypted ${d.file}: ${formatBytes(d.bytes)} (SHA-256 ${d.sha256}); the encrypted archive matched the backup's SHA-256 and every chunk authenticated`
    : `${d.alreadyComplete ? 'Already downloaded' : d.resumed ? 'Downloaded (resumed)' : 'Downloaded'} ${d.file}${d.replaced ? ', replacing the file that was there' : ''}: ${formatBytes(d.bytes)}, SHA-256 ${d.sha256} matches the backup`;

export function registerBackup(program: Command): void {
  const backup = program
    .command('backup')
    .description('create, list, download, link and delete backups')
    .addHelpText(
      'after',
      `
Examples:
  appvault backup create shop --wait --download shop.zip
  appvault backup create shop --schemas products --assets referenced --wait
  appvault backup list shop
  appvault backup download 3f2a9c1b-... -o shop.zip      (run again to resume a broken download)
  appvault backup link 3f2a9c1b-... --expires 1h --app shop`,
    );

  withGlobalOptions(
    withIncludeOptions(
      backup
        .command('create <app>')
        .description('back up an app, or part of it (answers at once; --wait follows the job until it ends)')
        .option('--label <label>', 'a label for the backup')
        .option('--repository <name>', 'keep a copy in this repository (repeat for several; default: local)', repeated)
        .option('--recipient <name>', 'encrypt the archive (age) to this recipient: a name configured for the app or the installation, or an age1… public key (repeat for several)', repeated)
        .option('--passphrase-out <file>', 'encrypt the archive (age) with a passphrase the server makes, written to this new file (mode 0600); it is shown nowhere else')
        .option('--incremental [base]', "hold only what changed since a base backup: the one given, or the app's latest backup of the whole app")
        .option('--wait', 'follow the backup until it is Completed or Failed')
        .option('--download <file>', 'then download the archive to <file> (implies --wait)')
        .option('--force', 'with --download: replace <file> if it exists'),
    )
      .addHelpText(
        'after',
        '\nWith --schemas, --contents or --assets the backup is partial: it holds only that selection, and a restore\nof it keeps references to anything else as plain ids. Without them it holds the whole app.\nWith --incremental it holds only the events since its base (and the file versions and users they name); a\nrestore of it reads its whole chain, and a full backup is taken instead once the chain reached its bound.',
      )
      .action(async (app: string, options: { label?: string; repository?: string[]; recipient?: string[]; passphraseOut?: string; incremental?: string | true; wait?: boolean; download?: string; force?: boolean } & IncludeOptions, command: Command) => {
        const context = new CliContext(command);
        const { client, output } = context;
        const include = includeOf(options);
        if (options.recipient && options.passphraseOut !== undefined) throw new CliError('Give --recipient or --passphrase-out, not both: age encrypts to recipients or to a passphrase', ExitCode.usage);
        const passphraseFile = options.passphraseOut !== undefined ? resolve(options.passphraseOut) : undefined;
        if (passphraseFile && existsSync(passphraseFile)) throw new CliError(`${passphraseFile} exists; --passphrase-out writes a new file only`, ExitCode.usage);
        const encryption = options.recipient ? { recipients: options.recipient } : passphraseFile ? { passphrase: true as const } : undefined;
        const answer = await client.call(
          'appBackups.create',
          {
            params: { app },
            body: {
              ...(options.label !== undefined ? { label: options.label } : {}),
              ...(include ? { include } : {}),
              ...(options.repository ? { repositories: options.repository } : {}),
              ...(encryption ? { encryption } : {}),
              ...(options.incremental !== undefined ? { incremental: options.incremental === true ? (true as const) : { base: options.incremental } } : {}),
            },
          },
          {
            404: 'See the apps with `appvault apps list`',
            409: `See the app's backups with \`appvault backup list ${app}\` (delete old ones with \`appvault backup delete <id> --app ${app}\`)`,
          },
        );
        // The passphrase goes to its file and nowhere else: not to the screen, not into --json.
        const { passphrase, ...created } = answer;
        if (passphraseFile) {
          if (!passphrase) throw new CliError(`The server made backup ${created.id} but answered no passphrase for it; it cannot be opened: delete it`, ExitCode.unavailable);
          const { writeFile } = await import('node:fs/promises');
          await writeFile(passphraseFile, `${passphrase}\n`, { mode: 0o600, flag: 'wx' });
          output.note(`The passphrase of backup ${created.id} is in ${passphraseFile}; keep it safe: the server keeps no copy`);
        }
        if (options.download !== undefined) {
          const result = await fetchArchive(client, output, created, { app, file: options.download, wait: true, force: options.force === true });
          output.result(result, () => [...describeBackup(result.backup), downloaded(result.download)]);
          return;
        }
        if (!options.wait) {
          const partial = created.include ? ` (partial: ${describeInclude(created.include)})` : '';
          output.result(created, [`Backup ${created.id} of app ${created.appName}${partial} is ${created.status}; follow it with \`appvault backup show ${created.id} --app ${app}\``]);
          return;
        }
        const ended = await followWithProgress(client, output, 'backup', created, backupJob(created.id, app), hintsFor(created.id, app));
        output.result(ended, () => describeBackup(ended));
        if (ended.status === 'Failed') throw failedError(ended).reported();
      }),
  );

  withGlobalOptions(
    backup
      .command('list [app]')
      .description("list an app's backups, or (admins, no app) every app's; newest first, every page")
      .action(async (app: string | undefined, _options: unknown, command: Command) => {
        const context = new CliContext(command);
        const found = await context.client.listAll(backupRoutes(app).list, { params: { app } }, {
          403: app ? `The key may not reach the backups of app ${app}` : 'Only admins list every backup: pass the app, `appvault backup list <app>`',
          404: 'See the apps with `appvault apps list`',
        });
        context.output.result(found, () =>
          found.items.length === 0
            ? ['No backups.']
            : table(
                ['ID', 'APP', 'STATUS', 'CREATED', 'EVENTS', 'SIZE', 'HOLDS', 'COPIES', 'LABEL'],
                found.items.map((b) => [b.id, b.appName, b.status, b.created, String(b.eventCount), formatBytes(b.sizeBytes), b.include ? `partial: ${describeInclude(b.include)}` : b.base ? `incremental from ${b.base}` : 'whole app', copiesColumn(b), b.label ?? '']),
              ),
        );
      }),
  );

  withGlobalOptions(
    backup
      .command('show <id>')
      .description('show one backup (admins by id; others with --app)')
      .option('--app <app>', 'reach the backup through its app (for keys that are not an admin)')
      .action(async (id: string, options: { app?: string }, command: Command) => {
        const context = new CliContext(command);
        const found = await context.client.call(backupRoutes(options.app).get, { params: { app: options.app, id } }, hintsFor(id, options.app));
        context.output.result(found, () => describeBackup(found));
      }),
  );

  withGlobalOptions(
    withKeyOptions(
      backup
        .command('download <id>')
        .description("stream a backup's archive to disk, resuming a partial file, and check its SHA-256")
        .option('-o, --output <file>', 'where to write it (default: the name the server gives, made safe, in this folder)')
        .option('--force', 'replace the file if it exists')
        .option('--app <app>', 'reach the backup through its app (for keys that are not an admin)')
        .option('--wait', 'if the backup is still running, wait for it first')
        .option('--decrypt', 'an encrypted backup (age): decrypt it after the download, with --identity FILE or --passphrase-file FILE, and keep the zip'),
    )
      .addHelpText(
        'after',
        `
The archive is written to <file>.part and renamed to <file> once its SHA-256 matches the backup's.
A broken download leaves the .part file, which the same command resumes (Range: bytes=<size>-); a
server that sends the whole archive instead has it written anew. An existing <file> is replaced only
with --force (exit code 2 without it), unless it is this backup's archive already, which is only
checked. Exit code 1 when the SHA-256 does not match the backup.

An encrypted backup downloads as .zip.age. With --decrypt it is downloaded to <file>.age (checked
and resumable as above), decrypted into <file> (every chunk authenticated; exit code 1 and the
encrypted file kept when the key does not open it or the file is damaged), and <file>.age removed.`,
      )
      .action(async (id: string, options: { output?: string; app?: string; wait?: boolean; force?: boolean; decrypt?: boolean } & KeyOptions, command: Command) => {
        const context = new CliContext(command);
        const found = await context.client.call(backupRoutes(options.app).get, { params: { app: options.app, id } }, hintsFor(id, options.app));
        const result = await fetchArchive(context.client, context.output, found, {
          app: options.app,
          file: options.output,
          wait: options.wait === true,
          force: options.force === true,
          ...(options.decrypt ? { decrypt: { identity: options.identity, passphraseFile: options.passphraseFile } } : {}),
        });
        context.output.result(result.download, () => [downloaded(result.download)]);
      }),
  );

  withGlobalOptions(
    backup
      .command('delete <id>')
      .description('delete a backup (not while it runs)')
      .option('--app <app>', 'reach the backup through its app (for keys that are not an admin)')
      .action(async (id: string, options: { app?: string }, command: Command) => {
        const context = new CliContext(command);
        const show = `appvault backup show ${id}${options.app ? ` --app ${options.app}` : ''}`;
        const answer = await context.client.call(backupRoutes(options.app).delete, { params: { app: options.app, id } }, {
          ...hintsFor(id, options.app),
          409: `A running backup can be deleted once it ends (\`${show}\`); a locked copy once its lock has passed`,
        });
        const kept = answer?.kept ?? [];
        context.output.result({ id, deleted: true, kept }, [`Deleted backup ${id}`, ...kept.map((copy) => `Kept its copy in ${copy.repository} (${copy.key}): ${copy.reason}`)]);
      }),
  );

  withGlobalOptions(
    backup
      .command('verify <id>')
      .description("check every copy of a backup again: there, its size, the store's SHA-256 and lock (--read-data: read and hash each whole)")
      .option('--read-data', 'read every copy whole and hash it (a download per copy)')
      .option('--app <app>', 'reach the backup through its app (for keys that are not an admin)')
      .addHelpText('after', '\nExit code 1 when a copy is missing, changed or cannot be checked; each copy says what was found.')
      .action(async (id: string, options: { readData?: boolean; app?: string }, command: Command) => {
        const context = new CliContext(command);
        const checked = await context.client.call(backupRoutes(options.app).verify, { params: { app: options.app, id }, body: { readData: options.readData === true } }, hintsFor(id, options.app));
        const bad = (checked.copies ?? []).filter((copy) => copy.error !== null);
        context.output.result(checked, () => [`Backup ${checked.id}: ${bad.length === 0 ? 'every copy is whole' : `${bad.length} of ${checked.copies.length} copies have a problem`}`, ...(checked.copies ?? []).flatMap(describeCopy)]);
        if (bad.length > 0) throw new CliError(`Backup ${checked.id}: ${bad.map((copy) => `the copy in ${copy.repository}: ${copy.error ?? ''}`).join('; ')}`, ExitCode.failed).reported();
      }),
  );

  withGlobalOptions(
    backup
      .command('link <id>')
      .description('make a download link that works without a key until it expires; prints its URL')
      .addOption(new Option('--expires <duration>', 'how long the link works: 90s, 15m, 1h, 7d').argParser(duration).default(3600, '1h'))
      .option('--app <app>', 'reach the backup through its app (for keys that are not an admin)')
      .action(async (id: string, options: { expires: number; app?: string }, command: Command) => {
        const context = new CliContext(command);
        const link = await context.client.call(
          backupRoutes(options.app).createLink,
          { params: { app: options.app, id }, body: { expiresIn: options.expires } },
          { ...hintsFor(id, options.app), 404: 'No such backup, or this server has no download links yet (they come with API v1.1)' },
        );
        if (!context.output.json) context.output.note(`The link expires at ${link.expires}`);
        context.output.result(link, [link.url]);
      }),
  );
}
