import { readFile } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import type { BodyOf } from '../../contract/client/api-types.js';
import type { Repository, RepositoryBackup, RepositoryCheck } from '../../contract/repositories.schemas.js';
import { CliContext, positiveInteger, withGlobalOptions } from '../cli-context.js';
import { CliError, ExitCode, usageError } from '../exit-codes.js';
import { formatBytes, table } from '../output.js';

/** The secret access key, for `--access-key-id` without `--secret-access-key-file`: never an argument (argv is visible to every user of the machine). */
const SECRET_ENV = 'APPVAULT_SECRET_ACCESS_KEY';

interface RepositoryOptions {
  type?: 'filesystem' | 's3';
  path?: string;
  appendOnly?: boolean;
  endpoint?: string;
  region?: string;
  bucket?: string;
  prefix?: string;
  pathStyle?: boolean;
  storageClass?: string;
  accessKeyIdEnv?: string;
  secretAccessKeyEnv?: string;
  secretsFile?: string;
  accessKeyId?: string;
  secretAccessKeyFile?: string;
  objectLockMode?: 'GOVERNANCE' | 'COMPLIANCE';
  objectLockDays?: number;
  objectLock?: boolean;
}

type Settings = BodyOf<'repositories.update'>;
type S3Body = NonNullable<Settings['s3']>;

function withSettingOptions(command: Command): Command {
  return command
    .option('--path <folder>', 'filesystem: an absolute path to an existing folder (a mounted share, a second disk) outside DATA_DIR')
    .option('--append-only', 'filesystem: AppVault never deletes there (your own tool prunes)')
    .option('--no-append-only', 'filesystem: AppVault may delete there (retention)')
    .option('--endpoint <url>', 's3: the server, like https://s3.example.com (leave out for AWS)')
    .option('--region <region>', 's3: the region (default us-east-1)')
    .option('--bucket <name>', 's3: the bucket')
    .option('--prefix <prefix>', 's3: a key prefix, so one bucket holds several repositories')
    .option('--path-style', 's3: path-style URLs (the default with --endpoint)')
    .option('--no-path-style', 's3: virtual-host URLs (bucket.endpoint)')
    .option('--storage-class <class>', 's3: a storage class, like STANDARD_IA')
    .option('--access-key-id-env <var>', 's3: credentials from the server’s environment: the variable holding the access key id')
    .option('--secret-access-key-env <var>', 's3: … and the one holding the secret access key')
    .option('--secrets-file <path>', 's3: credentials from a file on the server (mode 0600) holding {"accessKeyId": "…", "secretAccessKey": "…"}')
    .option('--access-key-id <id>', `s3: credentials the server stores; the secret from --secret-access-key-file or ${SECRET_ENV}`)
    .option('--secret-access-key-file <path>', 's3: a local file holding the secret access key (with --access-key-id)')
    .addOption(new Option('--object-lock-mode <mode>', 's3: lock every copy (the bucket must have Object Lock enabled)').choices(['GOVERNANCE', 'COMPLIANCE']))
    .option('--object-lock-days <n>', 's3: for how many days', positiveInteger)
    .option('--no-object-lock', 's3: stop locking new copies');
}

/** The secret for stored credentials: from a file or the environment, never from the command line. */
async function secretOf(options: RepositoryOptions): Promise<string> {
  if (options.secretAccessKeyFile !== undefined) {
    let text: string;
    try {
      text = await readFile(options.secretAccessKeyFile, 'utf8');
    } catch (error) {
      throw usageError(`--secret-access-key-file: cannot read ${options.secretAccessKeyFile} (${(error as { code?: string }).code ?? 'error'})`);
    }
    const secret = text.trim();
    if (!secret) throw usageError(`--secret-access-key-file: ${options.secretAccessKeyFile} is empty`);
    return secret;
  }
  const secret = process.env[SECRET_ENV]?.trim();
  if (!secret) throw usageError(`--access-key-id needs the secret access key: give --secret-access-key-file <path> or set ${SECRET_ENV} (never on the command line)`);
  return secret;
}

async function credentialsOf(options: RepositoryOptions): Promise<Partial<S3Body>> {
  if (options.secretAccessKeyFile !== undefined && options.accessKeyId === undefined) throw usageError('--secret-access-key-file goes with --access-key-id');
  if (options.accessKeyId !== undefined) return { accessKeyId: options.accessKeyId, secretAccessKey: await secretOf(options) };
  return {
    ...(options.accessKeyIdEnv !== undefined ? { accessKeyIdEnv: options.accessKeyIdEnv } : {}),
    ...(options.secretAccessKeyEnv !== undefined ? { secretAccessKeyEnv: options.secretAccessKeyEnv } : {}),
    ...(options.secretsFile !== undefined ? { secretsFile: options.secretsFile } : {}),
  };
}

function lockOf(options: RepositoryOptions, current: Repository['objectLock'] = null): Settings['objectLock'] {
  if (options.objectLock === false) return null;
  if (options.objectLockMode === undefined && options.objectLockDays === undefined) return current;
  const mode = options.objectLockMode ?? current?.mode;
  const days = options.objectLockDays ?? current?.days;
  if (!mode || !days) throw usageError('--object-lock-mode and --object-lock-days go together');
  return { mode, days };
}

/** The settings the options give, over the repository's current ones on an update. */
async function settingsOf(type: 'filesystem' | 's3', options: RepositoryOptions, current?: Repository): Promise<Settings> {
  if (type === 'filesystem') {
    return { path: options.path ?? current?.path ?? undefined, appendOnly: options.appendOnly ?? current?.appendOnly ?? false, ...(lockOf(options) ? { objectLock: lockOf(options) } : {}) };
  }
  const now = current?.s3;
  const s3: S3Body = {
    bucket: options.bucket ?? now?.bucket ?? '',
    ...((options.endpoint ?? now?.endpoint) ? { endpoint: options.endpoint ?? now!.endpoint! } : {}),
    ...((options.region ?? now?.region) ? { region: options.region ?? now!.region } : {}),
    ...((options.prefix ?? now?.prefix) ? { prefix: options.prefix ?? now!.prefix } : {}),
    ...((options.pathStyle ?? now?.forcePathStyle) !== undefined ? { forcePathStyle: options.pathStyle ?? now!.forcePathStyle } : {}),
    ...((options.storageClass ?? now?.storageClass) ? { storageClass: options.storageClass ?? now!.storageClass! } : {}),
    ...(await credentialsOf(options)),
  };
  if (!s3.bucket) throw usageError('--bucket is required for an s3 repository');
  return { s3, objectLock: lockOf(options, current?.objectLock ?? null), ...(options.appendOnly ? { appendOnly: true } : {}) };
}

function describe(repository: Repository): string[] {
  const s3 = repository.s3;
  return [
    `Name:        ${repository.name}`,
    `Id:          ${repository.id}`,
    `Type:        ${repository.type}`,
    `Location:    ${repository.location}`,
    ...(s3
      ? [
          `Bucket:      ${s3.bucket}${s3.prefix ? ` (prefix ${s3.prefix})` : ''}, region ${s3.region}, ${s3.forcePathStyle ? 'path-style' : 'virtual-host'} URLs${s3.storageClass ? `, ${s3.storageClass}` : ''}`,
          `Credentials: ${credentialsLine(repository)}`,
        ]
      : []),
    `Object Lock: ${repository.objectLock ? `${repository.objectLock.mode}, ${repository.objectLock.days} days` : 'no'}`,
    `Append-only: ${repository.appendOnly ? 'yes' : 'no'}`,
    ...(repository.updated ? [`Updated:     ${repository.updated}`] : []),
  ];
}

function credentialsLine(repository: Repository): string {
  const s3 = repository.s3!;
  switch (repository.credentials) {
    case 'environment':
      return `from the server's environment (${s3.accessKeyIdEnv ?? ''}, ${s3.secretAccessKeyEnv ?? ''})`;
    case 'file':
      return `from the file ${s3.secretsFile ?? ''} on the server`;
    case 'stored':
      return 'stored by AppVault (never shown)';
    default:
      return 'the AWS SDK’s default chain (AWS_* variables, profile, instance role)';
  }
}

const protection = (repository: Repository) =>
  repository.objectLock ? `locked ${repository.objectLock.mode} ${repository.objectLock.days}d` : repository.appendOnly ? 'append-only' : '';

function checkLines(name: string, check: RepositoryCheck): string[] {
  return [...check.steps.map((step) => `${step.ok ? 'ok  ' : 'FAIL'} ${step.step.padEnd(11)} ${step.message}`), check.ok ? `Repository ${name} works.` : `Repository ${name} does not work: see the failed step.`];
}

function backupRows(items: RepositoryBackup[]): string[][] {
  return items.map((item) =>
    item.backup
      ? [item.backup.appName, item.backup.id, item.backup.completed, item.sizeBytes === null ? '' : formatBytes(item.sizeBytes), item.own ? 'this one' : (item.installation ?? ''), item.key]
      : ['?', '', '', '', item.installation ?? '', `${item.key}: ${item.error ?? ''}`],
  );
}

export function registerRepository(program: Command): void {
  const repository = program
    .command('repository')
    .description('backup repositories (admin): folders and S3 buckets that hold copies of backups')
    .addHelpText(
      'after',
      `\nExamples:\n  appvault repository add nas --type filesystem --path /mnt/nas/appvault\n  appvault repository add offsite --type s3 --endpoint https://s3.example.com --bucket backups --access-key-id-env S3_KEY --secret-access-key-env S3_SECRET --object-lock-mode COMPLIANCE --object-lock-days 30\n  appvault repository add offsite --type s3 --bucket backups --access-key-id AKIA… --secret-access-key-file ./secret.txt\n  appvault repository check offsite\n  appvault repository backups offsite\n\nSecrets are never taken on the command line: --secret-access-key-file or ${SECRET_ENV}.`,
    );
  withGlobalOptions(
    withSettingOptions(
      repository
        .command('add <name>')
        .description('add a repository; the server checks the folder or the bucket first')
        .addOption(new Option('--type <type>', 'filesystem or s3').choices(['filesystem', 's3']).makeOptionMandatory()),
    ).action(async (name: string, options: RepositoryOptions, command: Command) => {
      const context = new CliContext(command);
      const body = { name, type: options.type!, ...(await settingsOf(options.type!, options)) };
      const created = await context.client.call('repositories.create', { body }, { 409: `A repository named "${name}" exists already` });
      context.output.result(created, () => [...describe(created), '', `Check it with: appvault repository check ${created.name}`]);
    }),
  );
  withGlobalOptions(
    repository
      .command('list')
      .description('the repositories, `local` (this installation’s own store) first')
      .action(async (_options: unknown, command: Command) => {
        const context = new CliContext(command);
        const { items } = await context.client.call('repositories.list', {});
        context.output.result({ items }, () => table(['NAME', 'TYPE', 'LOCATION', 'CREDENTIALS', 'PROTECTION'], items.map((r) => [r.name, r.type, r.location, r.credentials ?? '', protection(r)])));
      }),
  );
  withGlobalOptions(
    repository
      .command('show <repository>')
      .description('one repository (by name or id): where it is and where its credentials come from, never their values')
      .action(async (id: string, _options: unknown, command: Command) => {
        const context = new CliContext(command);
        const found = await context.client.call('repositories.get', { params: { id } }, { 404: `There is no repository "${id}"` });
        context.output.result(found, () => describe(found));
      }),
  );
  withGlobalOptions(
    withSettingOptions(repository.command('update <repository>').description('change a repository; options left out keep their value (S3 credentials too)')).action(
      async (id: string, options: RepositoryOptions, command: Command) => {
        const context = new CliContext(command);
        const current = await context.client.call('repositories.get', { params: { id } }, { 404: `There is no repository "${id}"` });
        if (current.type === 'local') throw new CliError('"local" is this installation’s own store: it cannot be changed', ExitCode.conflict, 409);
        const body = await settingsOf(current.type, options, current);
        const saved = await context.client.call('repositories.update', { params: { id }, body });
        context.output.result(saved, () => describe(saved));
      },
    ),
  );
  withGlobalOptions(
    repository
      .command('remove <repository>')
      .description('remove a repository (refused while a backup policy or a backup’s copy names it); what it holds stays where it is')
      .action(async (id: string, _options: unknown, command: Command) => {
        const context = new CliContext(command);
        await context.client.call('repositories.delete', { params: { id } }, { 404: `There is no repository "${id}"` });
        context.output.result({ removed: id }, [`Repository ${id} removed; what it holds stays where it is.`]);
      }),
  );
  withGlobalOptions(
    repository
      .command('check <repository>')
      .description('write, read and delete a small object there, and say what failed (exit 1 when something did)')
      .action(async (id: string, _options: unknown, command: Command) => {
        const context = new CliContext(command);
        const check = await context.client.call('repositories.check', { params: { id } }, { 404: `There is no repository "${id}"` });
        context.output.result(check, () => checkLines(id, check));
        if (!check.ok) throw new CliError(`Repository ${id} failed its check`, ExitCode.failed).reported();
      }),
  );
  withGlobalOptions(
    repository
      .command('backups <repository>')
      .description('the backups a repository holds, also those another installation wrote')
      .action(async (id: string, _options: unknown, command: Command) => {
        const context = new CliContext(command);
        const listed = await context.client.call('repositories.backups', { params: { id } }, { 404: `There is no repository "${id}"` });
        context.output.result(listed, () => [
          ...table(['APP', 'BACKUP', 'COMPLETED', 'SIZE', 'WRITTEN BY', 'KEY'], backupRows(listed.items)),
          ...(listed.items.length === 0 ? ['(no backups)'] : []),
          ...(listed.truncated ? [`Only the first ${listed.items.length} are shown.`] : []),
        ]);
      }),
  );
}
