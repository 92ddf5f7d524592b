import type { Command } from 'commander';
import { CliContext, withGlobalOptions } from '../cli-context.js';
import { table } from '../output.js';

export function registerApps(program: Command): void {
  const apps = program.command('apps').description('apps on the server').addHelpText('after', '\nExamples:\n  appvault apps list\n  appvault apps list --json');
  withGlobalOptions(
    apps
      .command('list')
      .description('list the apps the key contributes to (admins: every app), every page')
      .action(async (_options: unknown, command: Command) => {
        const context = new CliContext(command);
        const found = await context.client.listAll('apps.list', {});
        context.output.result(found, () =>
          found.items.length === 0
            ? ['No apps.']
            : table(
                ['NAME', 'ID', 'LABEL', 'CONTRIBUTORS', 'MODIFIED'],
                found.items.map((app) => [app.name, app.id, app.label ?? '', String(app.contributors?.length ?? 0), app.lastModified ?? '']),
              ),
        );
      }),
  );
}
