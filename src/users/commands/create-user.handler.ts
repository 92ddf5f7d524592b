import { randomUUID } from 'node:crypto';
import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { streams } from '../../infrastructure/event-store/event-store.port.js';
import { Lease } from '../../infrastructure/name-index/lease.js';
import { claims, NAME_INDEX, type NameIndex } from '../../infrastructure/name-index/name-index.port.js';
import { generateApiKey, hashApiKey } from '../../platform/auth/api-key.js';
import { EventWriter } from '../../eventsourcing/event-writer.service.js';
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

/**
 * Emails are unique across the installation: the normalised email is claimed in the shared claims
 * first (so two creates, in one process or two, cannot both pass) and committed to the user once
 * its event is stored. Users from before claims existed are found by the read model.
 */
@CommandHandler(CreateUserCommand)
export class CreateUserHandler implements ICommandHandler<CreateUserCommand, CreatedUser> {
  constructor(
    private readonly writer: EventWriter,
    private readonly projection: UsersProjection,
    @Inject(NAME_INDEX) private readonly names: NameIndex,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async execute({ input, actor, key }: CreateUserCommand): Promise<CreatedUser> {
    const userId = input.userId ?? randomUUID();
    const apiKey = key === 'generate' ? generateApiKey() : key === 'none' ? undefined : key;
    const email = normalizeEmail(input.email);
    const claim = await Lease.acquire(this.names, claims.email(email), { ttlMs: this.config.nameReservationTtlMs, holder: userId });
    try {
      const emailTaken = (await this.projection.users.findOne({ email })) !== undefined;
      const decide = (state: UserState) =>
        createUser(state, { userId, email: input.email, displayName: input.displayName, admin: input.admin ?? false, emailTaken, keyHash: apiKey ? hashApiKey(apiKey) : undefined });
      await this.writer.handle(streams.user(userId), userDecider, decide, { actor, fresh: true, onAppended: () => claim.commit(userId) });
    } finally {
      await claim.release();
    }
    const user = await this.projection.users.get(userId);
    if (!user) throw new Error(`User ${userId} was written but is not projected`);
    return { user, ...(apiKey ? { apiKey } : {}) };
  }
}
