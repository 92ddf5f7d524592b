import { type Command, InvalidArgumentError, Option } from 'commander';
import { ASSET_CHOICES, type AssetChoice } from '../contract/api-values.js';
import type { Selection } from '../contract/backups.schemas.js';

/** What `--schemas`, `--contents` and `--assets` parse to; each absent when not given. */
export interface IncludeOptions {
  schemas?: string[];
  contents?: string[];
  assets?: AssetChoice;
}

function commaList(what: string): (value: string) => string[] {
  return (value) => {
    const items = value
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
    if (items.length === 0) throw new InvalidArgumentError(`must name at least one ${what}, separated by commas`);
    return items;
  };
}

/** Adds the options that make a backup partial; the server checks the names and ids and says what it lacks. */
export function withIncludeOptions(command: Command): Command {
  return command
    .addOption(new Option('--schemas <names>', 'back up only these schemas (comma-separated names) and their contents').argParser(commaList('schema')))
    .addOption(new Option('--contents <ids>', "back up only these contents (comma-separated ids), within the schemas' selection").argParser(commaList('content id')))
    .addOption(new Option('--assets <which>', 'which assets: all, those the kept contents reference, or none').choices(ASSET_CHOICES));
}

/** The `include` to send (absent keys: all of that kind), or undefined for the whole app when no option was given. */
export function includeOf(options: IncludeOptions): IncludeOptions | undefined {
  const include: IncludeOptions = {
    ...(options.schemas !== undefined ? { schemas: options.schemas } : {}),
    ...(options.contents !== undefined ? { contents: options.contents } : {}),
    ...(options.assets !== undefined ? { assets: options.assets } : {}),
  };
  return Object.keys(include).length > 0 ? include : undefined;
}

const plural = (count: number, one: string, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;

/**
 * One line for a selection, naming only what it narrows and always the assets:
 * "schema products; assets: none", "every schema; 2 listed contents; assets: referenced".
 */
export function describeInclude(include: Selection | null | undefined): string {
  if (!include) return 'the whole app';
  const schemas = include.schemas ? `${include.schemas.length === 1 ? 'schema' : 'schemas'} ${include.schemas.join(', ')}` : 'every schema';
  const contents = include.contents ? [plural(include.contents.length, 'listed content')] : [];
  return [schemas, ...contents, `assets: ${include.assets}`].join('; ');
}
