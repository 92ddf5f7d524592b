import type { Command } from 'commander';
import { CliContext, withGlobalOptions } from '../cli-context.js';
import { table } from '../output.js';

const HINTS = {
  403: 'Admins manage the installation’s recipients; an app’s Owner manages the app’s (pass --app)',
  404: 'See the recipients with `appvault recipient list` (or `--app <app>`)',
};

/**
 * `appvault recipient`: the public keys (age1…) backups may be encrypted to, for every app (admins)
 * or one app (its Owners), and this installation's own (admins). Only public keys pass here.
 */
export function registerRecipient(program: Command): void {
  const recipient = program
    .command('recipient')
    .description('the public keys (age1…) encrypted backups may name: for every app (admins) or for one app (--app, Owners)')
    .addHelpText(
      'after',
      `
Examples:
  age-keygen -o ops-key.txt                      (keep the file; it prints the public key)
  appvault recipient add ops age1… --app shop
  appvault backup create shop --recipient ops --wait
  appvault recipient installation                (this server's own public key, to give a source installation)`,
    );

  withGlobalOptions(
    recipient
      .command('list')
      .description('the installation’s recipients, or with --app the app’s own then the installation’s')
      .option('--app <app>', 'the recipients an app’s backups may name')
      .action(async (options: { app?: string }, command: Command) => {
        const context = new CliContext(command);
        const found = options.app ? await context.client.call('appRecipients.list', { params: { app: options.app } }, HINTS) : await context.client.call('recipients.list', {}, HINTS);
        context.output.result(found, () => (found.items.length === 0 ? ['No recipients.'] : table(['NAME', 'SCOPE', 'RECIPIENT', 'CREATED'], found.items.map((r) => [r.name, r.scope, r.recipient, r.created]))));
      }),
  );

  withGlobalOptions(
    recipient
      .command('add <name> <recipient>')
      .description('add a recipient (an age X25519 public key) by name')
      .option('--app <app>', 'for this app only (its Owners); without: for every app (admins)')
      .action(async (name: string, key: string, options: { app?: string }, command: Command) => {
        const context = new CliContext(command);
        const body = { name, recipient: key };
        const added = options.app ? await context.client.call('appRecipients.create', { params: { app: options.app }, body }, HINTS) : await context.client.call('recipients.create', { body }, HINTS);
        context.output.result(added, [`Added recipient ${added.name} (${added.scope}): ${added.recipient}`]);
      }),
  );

  withGlobalOptions(
    recipient
      .command('remove <name>')
      .description('remove a recipient; backups already encrypted to it stay so')
      .option('--app <app>', 'one of the app’s recipients')
      .action(async (name: string, options: { app?: string }, command: Command) => {
        const context = new CliContext(command);
        if (options.app) await context.client.call('appRecipients.delete', { params: { app: options.app, name } }, HINTS);
        else await context.client.call('recipients.delete', { params: { name } }, HINTS);
        context.output.result({ name, removed: true }, [`Removed recipient ${name}`]);
      }),
  );

  withGlobalOptions(
    recipient
      .command('installation')
      .description('this installation’s own public key (admins): a source installation encrypts a migration to it')
      .action(async (_options: unknown, command: Command) => {
        const context = new CliContext(command);
        const found = await context.client.call('installation.recipient', {}, HINTS);
        context.output.result(found, [found.recipient]);
      }),
  );
}
