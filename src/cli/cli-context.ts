import { type Command, InvalidArgumentError, Option } from 'commander';
import { CliApi, parseServerUrl } from './api-client.js';
import { EXIT_CODES_LINE } from './exit-codes.js';
import { Output } from './output.js';

export const DEFAULT_URL = 'http://localhost:8080';

export interface GlobalOptions {
  url: string;
  token: string | undefined;
  json: boolean;
  progress: boolean;
}

type GlobalKey = keyof GlobalOptions;

/** The global options' Option objects, so their values are told apart from a command's own `--url`. */
const globalOptions = new WeakSet<Option>();

/**
 * Adds the global options to a command. They are on every command (commander reads a program's
 * options only before the command name once positional options are on, which `restore --url`
 * needs), so `appvault backup list --json` and `appvault --json backup list` both work. `restore`
 * itself takes `--url` for the archive's address: there the server's comes first or from APPVAULT_URL.
 */
export function withGlobalOptions(command: Command, options: { url?: boolean } = {}): Command {
  const add = (option: Option) => {
    globalOptions.add(option);
    command.addOption(option);
  };
  if (options.url !== false) add(new Option('--url <url>', `the server's address (env APPVAULT_URL, default ${DEFAULT_URL})`));
  add(new Option('--token <key>', 'API key (env APPVAULT_TOKEN)'));
  add(new Option('--json', 'print one JSON document on stdout and nothing else there'));
  add(new Option('--no-progress', 'no progress bars: one plain line per change on stderr'));
  if (command.parent) command.addHelpText('after', `\n${EXIT_CODES_LINE}`);
  return command;
}

/** A global option's value as given on the command line, nearest command first. */
function given(command: Command, key: GlobalKey): unknown {
  for (let at: Command | null = command; at; at = at.parent) {
    const option = at.options.find((o) => o.attributeName() === key && globalOptions.has(o));
    if (option && at.getOptionValueSource(key) === 'cli') return at.getOptionValue(key);
  }
  return undefined;
}

export function globalsOf(command: Command, env: NodeJS.ProcessEnv = process.env): GlobalOptions {
  const url = given(command, 'url');
  const token = given(command, 'token');
  const json = given(command, 'json');
  const progress = given(command, 'progress');
  return {
    url: typeof url === 'string' ? url : env['APPVAULT_URL'] || DEFAULT_URL,
    token: typeof token === 'string' ? token : env['APPVAULT_TOKEN'] || undefined,
    json: json === true,
    progress: progress !== false,
  };
}

/** What a command's action works with. */
export class CliContext {
  readonly globals: GlobalOptions;
  readonly output: Output;
  private api?: CliApi;

  constructor(command: Command) {
    this.globals = globalsOf(command);
    this.output = Output.create(this.globals);
    current = this;
  }

  get client(): CliApi {
    this.api ??= new CliApi(parseServerUrl(this.globals.url), this.globals.token);
    return this.api;
  }
}

let current: CliContext | undefined;

/** The context of the command that runs (main uses it to print an error the way the command would). */
export const currentContext = () => current;

// Value parsers: a bad value is a commander error, so exit code 2 with the option named.

export function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) throw new InvalidArgumentError('must be a whole number from 1');
  return Number(value);
}

/** An option given several times (`--repository a --repository b`): every value, in order. */
export const repeated = (value: string, previous: string[] = []): string[] => [...previous, value];

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

export function isoTime(value: string): string {
  if (!ISO_TIME.test(value) || Number.isNaN(Date.parse(value))) throw new InvalidArgumentError('must be an ISO-8601 time with a zone, like 2026-11-22T10:00:00Z');
  return value;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `90s`, `15m`, `1h`, `7d` (or plain seconds) → seconds. */
export function duration(value: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(value.trim());
  if (!match || Number(match[1]) < 1) throw new InvalidArgumentError('must be a duration like 90s, 15m, 1h or 7d');
  return Number(match[1]) * UNITS[match[2] || 's']!;
}

export function byteCount(value: string): number {
  const match = /^(\d+)([kmgt]i?b?)?$/i.exec(value.trim());
  if (!match) throw new InvalidArgumentError('must be a number of bytes, like 1000000 or 200GiB');
  const unit = (match[2] ?? '').toLowerCase().charAt(0);
  const scale = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[unit] ?? 1;
  return Number(match[1]) * scale;
}
