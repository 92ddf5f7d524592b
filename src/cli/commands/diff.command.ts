import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { DIFF_PAGE_DEFAULT, DIFF_PAGE_MAX } from '../../contract/api-values.js';
import { changesByKind } from '../../contract/diff-groups.js';
import type { DiffItem } from '../../contract/diffs.schemas.js';
import { diffLines } from '../diff-lines.js';
import { CliContext, positiveInteger, withGlobalOptions } from '../cli-context.js';
import { usageError } from '../exit-codes.js';
import { type KeyOptions, keyTexts, withKeyOptions, withPlainArchive } from '../key-options.js';
import type { Lines } from '../output.js';
import { maxExpandedOption, offline } from './archive.command.js';

interface DiffOptions extends KeyOptions {
  app?: string;
  limit: number;
  cursor?: string;
  snapshot?: string;
  maxExpandedBytes: number;
}

/** A side as either diff names it: a backup of the server, the live app, or an archive file. */
interface Side {
  backupId?: string | null;
  file?: string;
  appId: string;
  appName: string;
  created: string | null;
  events: number;
}

interface Shown {
  from: Side;
  to: Side;
  summary: Record<string, { added: number; removed: number; changed: number }>;
  total: number;
  items: DiffItem[];
  next: string | null;
  snapshot?: string | null;
}

const cursorOf = (value: string): string => {
  if (!/^\d{1,16}$/.test(value)) throw new InvalidArgumentError('must be the cursor a page of this diff printed');
  return value;
};

const limitOf = (value: string): number => {
  const limit = positiveInteger(value);
  if (limit > DIFF_PAGE_MAX) throw new InvalidArgumentError(`must be at most ${DIFF_PAGE_MAX}`);
  return limit;
};

const isFile = async (path: string) => (await stat(path).catch(() => undefined))?.isFile() === true;
/** What can only be meant as a file (a path, an archive's name), never a backup id. */
const looksLikeFile = (arg: string) => /[\\/]|\.zip(\.age)?$|\.age$/i.test(arg);

const sideLine = (side: Side) =>
  side.file !== undefined
    ? `${side.file}: app ${side.appName} (${side.appId}), made ${side.created ?? '?'}, ${side.events} events`
    : side.backupId
      ? `backup ${side.backupId} of app ${side.appName}, made ${side.created ?? '?'}, ${side.events} events`
      : `the live app ${side.appName}, ${side.events} events`;

/** The diff as lines: the sides, then the counts and the page's changes (a live diff's next page names its snapshot). */
const linesOf = (diff: Shown): Lines => [
  `from: ${sideLine(diff.from)}`,
  `to:   ${sideLine(diff.to)}`,
  ...diffLines(diff, '', (next) => `more: add --cursor ${next}${diff.snapshot ? ` --snapshot ${diff.snapshot}` : ''} for the next page`),
];

const snapshotOf = (value: string): string => {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value)) throw new InvalidArgumentError('must be the snapshot a page of this diff printed');
  return value;
};

export function registerDiff(program: Command): void {
  withGlobalOptions(
    withKeyOptions(
      program
        .command('diff <a> <b>')
        .description('what differs from a to b: two archive files (offline), or two backup ids or a backup id and `live`')
        .option('--app <app>', 'the app the backups belong to (without it, an admin key looks the backup up by id)')
        .addOption(new Option('--limit <n>', `changes per page, 1 to ${DIFF_PAGE_MAX}`).argParser(limitOf).default(DIFF_PAGE_DEFAULT))
        .addOption(new Option('--cursor <cursor>', 'start at this page (the cursor the page before printed)').argParser(cursorOf))
        .addOption(new Option('--snapshot <id>', 'against live: read the computation a page before printed, so pages agree').argParser(snapshotOf))
        .addOption(maxExpandedOption()),
    ),
  )
    .addHelpText(
      'after',
      `
Per kind (schemas, contents, assets, contributors): what b has that a lacks (+), what a has that b
lacks (-), and what both have but differently (~), with the fields that differ (values cut to a
bounded length, and marked so) and the file versions added. The counts cover the whole diff; the
changes come a page at a time. A large diff through the server goes on while the command waits: it
asks again when the server says to (202, Retry-After), saying so on stderr.

Two files are compared here, with every check a restore makes, in a temporary SQLite file removed
after (encrypted archives open with --identity FILE or --passphrase-file FILE). Backup ids ask the
server (GET /api/apps/{app}/backups/{a}/diff?against=b|live; with a key, POST, the key in the body).

Examples:
  appvault diff monday.zip tuesday.zip
  appvault diff 3f2a9c1b-... live --app shop
  appvault diff 3f2a9c1b-... 7d41e0aa-... --app shop --identity ops-key.txt --json`,
    )
    .action(async (a: string, b: string, options: DiffOptions, command: Command) => {
      const context = new CliContext(command);
      const [fileA, fileB] = [await isFile(a), await isFile(b)];
      let shown: Shown;
      if (fileA && fileB) {
        const { stateDiffOffline } = await import('../offline-archive.js');
        const diff = await offline(context.output, `${a} or ${b}`, () =>
          withPlainArchive(resolve(a), options, (plainA) =>
            withPlainArchive(resolve(b), options, (plainB) => stateDiffOffline(plainA, plainB, { maxExpandedBytes: options.maxExpandedBytes, after: Number(options.cursor ?? 0), limit: options.limit })),
          ),
        );
        // The same shape as the route's answer (--json), the contract's per-kind groups included.
        shown = { ...diff, ...changesByKind(diff), from: { ...diff.from, file: a }, to: { ...diff.to, file: b } };
      } else if (fileA || fileB || looksLikeFile(a) || looksLikeFile(b)) {
        for (const arg of [a, b]) if (!(await isFile(arg)) && looksLikeFile(arg)) throw usageError(`${arg}: there is no such file`);
        throw usageError(`${fileA ? b : a} is not a file: give two archive files, or two backup ids (or a backup id and live)`);
      } else {
        const { client } = context;
        const app = options.app ?? (await client.call('backups.get', { params: { id: a } }, { 403: 'Only admins reach a backup by its id alone: pass --app <app>' })).appName;
        const hints = { 403: `The key may not reach the backups of app ${app}: use an Owner's, Developer's or admin's key`, 404: `See the app's backups with \`appvault backup list ${app}\`` };
        const keys = await keyTexts(options);
        const keyed = keys.identity !== undefined || keys.passphrase !== undefined;
        const ask = (snapshot: string | undefined) =>
          keyed
            ? client.call('appBackups.diff.keyed', { params: { app, id: a }, body: { against: b, cursor: options.cursor, limit: options.limit, snapshot, ...keys } }, hints)
            : client.call('appBackups.diff', { params: { app, id: a }, query: { against: b, cursor: options.cursor, limit: String(options.limit), snapshot } }, hints);
        let answer = await ask(options.snapshot);
        // 202: the server goes on computing; the same request asked again (with its snapshot) reads it.
        while ('status' in answer) {
          const { since, retryAfterSeconds, snapshot } = answer;
          context.output.note(`The server is still computing this diff (since ${since}); asking again in ${retryAfterSeconds} s`);
          await new Promise((resolve) => setTimeout(resolve, retryAfterSeconds * 1000));
          answer = await ask(snapshot ?? options.snapshot);
        }
        shown = answer;
      }
      context.output.result(shown, () => linesOf(shown));
    });
}
