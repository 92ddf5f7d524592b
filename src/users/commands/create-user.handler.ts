import { randomUUID } from 'node:crypto';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { streams } from '../../infrastructure/event-store/event-store.port.js';
import { generateApiKey, hashApiKey } from '../../platform/auth/api-key.js';
import { EventWriter } from '../../platform/events/event-writer.service.js';
import { createUser, normalizeEmail, userDecider, type UserState } from '../user.aggregate.js';
import { UsersProjection, type UserDoc } from '../users.projection.js';

export interface CreatedUser {
  user: UserDoc;
  /** Present only when a key was issued; shown to the caller once and never stored in clear. */
  apiKey?: string;
}

export class CreateUserCommand extends Command<CreatedUser> {
  constructor(
    readonly input: { email: string; displayName?: string; admin?: boolean; userId?: string },
    readonly actor: string,
    /** A given key (ADMIN_TOKEN), a fresh one ('generate'), or none (users mapped in by a restore). */
    readonly key: string | 'generate' | 'none' = 'generate',
  ) {
    super();
  }
}

/** Emails are unique; checks and writes are serialised in-process so two creates cannot both pass. */
let queue: Promise<unknown> = Promise.resolve();

@CommandHandler(CreateUserCommand)
export class CreateUserHandler implements ICommandHandler<CreateUserCommand, CreatedUser> {
  constructor(
    private readonly writer: EventWriter,
    private readonly projection: UsersProjection,
  ) {}

  execute(command: CreateUserCommand): Promise<CreatedUser> {
    const run = queue.then(() => this.create(command));
    queue = run.catch(() => undefined);
    return run;
  }

  private async create({ input, actor, key }: CreateUserCommand): Promise<CreatedUser> {
    const userId = input.userId ?? randomUUID();
    const apiKey = key === 'generate' ? generateApiKey() : key === 'none' ? undefined : key;
    const emailTaken = (await this.projection.users.findOne({ email: normalizeEmail(input.email) })) !== undefined;
    const decide = (state: UserState) =>
      createUser(state, { userId, email: input.email, displayName: input.displayName, admin: input.admin ?? false, emailTaken, keyHash: apiKey ? hashApiKey(apiKey) : undefined });
    await this.writer.handle(streams.user(userId), userDecider, decide, { actor, fresh: true });
    const user = await this.projection.users.get(userId);
    if (!user) throw new Error(`User ${userId} was written but is not projected`);
    return { user, ...(apiKey ? { apiKey } : {}) };
  }
}
