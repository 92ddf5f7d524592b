import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { streams } from '../infrastructure/event-store/event-store.port.js';
import { claims } from '../infrastructure/name-index/name-index.port.js';
import { generateApiKey, hashApiKey } from '../auth/api-key.js';
import { notFound } from '../platform/domain-errors.js';
import { type CommandPlan, type CommandPlanner, StreamCommand } from '../eventsourcing/stream-command.handler.js';
import { normalizeEmail, type UserCommand, userDecider, type UserState } from './user.aggregate.js';
import type { UserEvent } from './user.events.js';
import { type UserDoc, UsersProjection } from './users.projection.js';

/**
 * User commands as the CommandBus carries them, and what the users module adds to the one command
 * cycle (StreamCommandHandler, src/eventsourcing/stream-command.handler.ts).
 */

export interface CreatedUser {
  user: UserDoc;
  /** Present only when a key was issued; shown to the caller once and never stored in clear. */
  apiKey?: string;
}

export class CreateUserCommand extends StreamCommand<CreatedUser> {
  constructor(
    /** `keyHash`: the hash of a key the user already has (an encrypted archive's credentials), kept as it is. */
    readonly input: { email: string; displayName?: string; admin?: boolean; userId?: string; keyHash?: string },
    readonly actor: string,
    /** A given key (ADMIN_TOKEN), a fresh one ('generate'), or none (users mapped in by a restore). */
    readonly key: string | 'generate' | 'none' = 'generate',
  ) {
    super();
  }
}

/**
 * Replaces a user's API key; the old one stops working as soon as the command answers (the write
 * is projected before it does). The key is returned once and stored hashed.
 */
export class IssueApiKeyCommand extends StreamCommand<{ apiKey: string; issued: boolean }> {
  constructor(
    readonly userId: string,
    readonly actor: string,
    /** The key to use (ADMIN_TOKEN); a new one is generated without it. */
    readonly key?: string,
  ) {
    super();
  }
}

type UserRequest = CreateUserCommand | IssueApiKeyCommand;

/**
 * Emails are unique across the installation: a create claims the normalised email in the shared
 * claims first (so two creates, in one process or two, cannot both pass), committed to the user
 * once its event is stored. Users from before claims existed are found by the read model.
 */
@Injectable()
export class UserCommandPlanner implements CommandPlanner<UserRequest, UserState, UserCommand, UserEvent> {
  // The context these log lines have always had.
  private readonly logger = new Logger('UsersService');
  readonly commands = [CreateUserCommand, IssueApiKeyCommand];
  readonly decider = userDecider;

  constructor(private readonly projection: UsersProjection) {}

  async plan(request: UserRequest): Promise<CommandPlan<UserState, UserCommand, UserEvent>> {
    return request instanceof CreateUserCommand ? this.create(request) : this.issueKey(request);
  }

  private create({ input, actor, key }: CreateUserCommand): CommandPlan<UserState, UserCommand, UserEvent> {
    const userId = input.userId ?? randomUUID();
    const apiKey = key === 'generate' ? generateApiKey() : key === 'none' ? undefined : key;
    const email = normalizeEmail(input.email);
    return {
      stream: streams.user(userId),
      actor,
      fresh: true,
      claim: { claim: claims.email(email), owner: userId },
      prepare: async () => {
        const emailTaken = (await this.projection.users.findOne({ email })) !== undefined;
        const keyHash = input.keyHash ?? (apiKey ? hashApiKey(apiKey) : undefined);
        return { type: 'CreateUser', data: { userId, email: input.email, displayName: input.displayName, admin: input.admin ?? false, emailTaken, keyHash } };
      },
      answer: async (): Promise<CreatedUser> => {
        const user = await this.projection.users.get(userId);
        if (!user) throw new Error(`User ${userId} was written but is not projected`);
        return { user, ...(apiKey ? { apiKey } : {}) };
      },
    };
  }

  private async issueKey({ userId, actor, key }: IssueApiKeyCommand): Promise<CommandPlan<UserState, UserCommand, UserEvent>> {
    const user = await this.projection.users.get(userId);
    if (!user) throw notFound(`User ${userId} does not exist`);
    const apiKey = key ?? generateApiKey();
    return {
      stream: streams.user(userId),
      actor,
      command: { type: 'IssueApiKey', data: { keyHash: hashApiKey(apiKey) } },
      retryOnConflict: true,
      answer: async ({ events }) => {
        if (key === undefined) this.logger.log(`A new API key was issued for user ${user.email}${actor === userId ? ' by themselves' : ''}`);
        return { apiKey, issued: events.length > 0 };
      },
    };
  }
}
