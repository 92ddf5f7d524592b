import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { CommandBus } from '@nestjs/cqrs';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { streams } from '../infrastructure/event-store/event-store.port.js';
import { claims, NAME_INDEX, type NameIndex } from '../infrastructure/name-index/name-index.port.js';
import { hashApiKey } from '../auth/api-key.js';
import { printOnce } from '../platform/logging/app-logger.js';
import { APP_DIRECTORY, type AppDirectory, type PrincipalResolver } from '../auth/auth.ports.js';
import { AppReplays } from '../eventsourcing/app-replays.service.js';
import { type Principal, SYSTEM_ACTOR } from '../auth/principal.js';
import { EventWriter } from '../eventsourcing/event-writer.service.js';
import type { Page } from '../contract/paging.schemas.js';
import type { User } from '../contract/users.schemas.js';
import { normalizeEmail, userDecider } from './user.aggregate.js';
import { CreateUserCommand, IssueApiKeyCommand } from './user.commands.js';
import { type UserDoc, UsersProjection } from './users.projection.js';

export type UserView = User;

export const toUserView = (u: UserDoc): UserView => ({ id: u.id, email: u.email, displayName: u.displayName, admin: u.admin });
const toPrincipal = (u: UserDoc): Principal => ({ userId: u.id, email: u.email, displayName: u.displayName, admin: u.admin });

@Injectable()
export class UsersService implements PrincipalResolver {
  private readonly logger = new Logger(UsersService.name);

  constructor(
    private readonly commands: CommandBus,
    private readonly projection: UsersProjection,
    private readonly writer: EventWriter,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly replays: AppReplays,
    private readonly moduleRef: ModuleRef,
    @Inject(NAME_INDEX) private readonly names: NameIndex,
  ) {}

  async byApiKey(key: string): Promise<Principal | undefined> {
    const user = await this.projection.users.findOne({ apiKeyHash: hashApiKey(key) });
    return user ? toPrincipal(user) : undefined;
  }

  async byId(userId: string): Promise<Principal | undefined> {
    const user = await this.projection.users.get(userId);
    return user ? toPrincipal(user) : undefined;
  }

  async list(page: Page): Promise<{ total: number; items: UserView[] }> {
    const found = await this.projection.users.find({}, { sort: [{ field: 'email', direction: 'asc' }], ...page });
    return { total: found.total, items: found.items.map(toUserView) };
  }

  get(id: string): Promise<UserDoc | undefined> {
    return this.projection.users.get(id);
  }

  findByEmail(email: string): Promise<UserDoc | undefined> {
    return this.projection.users.findOne({ email: normalizeEmail(email) });
  }

  /** Restores create the users they cannot map by email, with the id they noted first and no API key. */
  async createForRestore(userId: string, email: string, displayName: string, actor: string, keyHash?: string): Promise<UserDoc> {
    const { user } = await this.commands.execute(new CreateUserCommand({ email, displayName, userId, ...(keyHash ? { keyHash } : {}) }, actor, 'none'));
    return user;
  }

  /**
   * Removes a user a failed restore created, unless something else came to rely on it meanwhile
   * (an API key, a role on another app): then it stays, and the log says why.
   */
  async removeCreatedByRestore(userId: string, restoredAppId: string): Promise<'removed' | 'kept' | 'absent'> {
    const user = await this.projection.users.get(userId);
    if (!user) {
      // Created in the store but not projected yet, or never created: remove the stream either way.
      const { state } = await this.writer.load(streams.user(userId), userDecider);
      await this.replays.purgeStream(streams.user(userId), (tx) => tx.of(this.projection.users).delete(userId));
      if (state.exists) await this.names.releaseOwned(claims.email(normalizeEmail(state.email)), userId);
      return 'absent';
    }
    const apps = (await this.moduleRef.get<AppDirectory>(APP_DIRECTORY, { strict: false }).appsOf(userId)).filter((id) => id !== restoredAppId);
    if (user.apiKeyHash || apps.length > 0) {
      this.logger.warn(`User ${user.email} was created by a restore that failed, but has ${user.apiKeyHash ? 'an API key' : `a role on ${apps.length} other app(s)`} now; keeping it`);
      return 'kept';
    }
    await this.replays.purgeStream(streams.user(userId), (tx) => tx.of(this.projection.users).delete(userId));
    await this.names.releaseOwned(claims.email(user.email), userId);
    return 'removed';
  }

  /**
   * Makes sure the first administrator exists. With ADMIN_TOKEN set that key is the admin's key
   * (set again if it changed); without it a key is generated once, logged once and written to
   * <DATA_DIR>/admin-token with mode 0600.
   */
  async bootstrapAdmin(): Promise<void> {
    const email = this.config.adminEmail;
    const existing = await this.findByEmail(email);
    if (!existing) {
      const key = this.config.adminToken ?? 'generate';
      const { apiKey } = await this.commands.execute(new CreateUserCommand({ email, displayName: 'Administrator', admin: true }, SYSTEM_ACTOR, key));
      if (!this.config.adminToken && apiKey) {
        const file = join(this.config.dataDir, 'admin-token');
        await mkdir(this.config.dataDir, { recursive: true });
        await writeFile(file, `${apiKey}\n`, { mode: 0o600 });
        await chmod(file, 0o600);
        this.logger.log(`Created administrator ${email}; its API key is printed once on stdout and kept in ${file}`);
        printOnce(this.config.logFormat, `The API key of administrator ${email} (shown once, also in ${file})`, { name: 'apiKey', value: apiKey }, { file });
      } else {
        this.logger.log(`Created administrator ${email} with the key from ADMIN_TOKEN`);
      }
      return;
    }
    if (this.config.adminToken) {
      const { issued } = await this.commands.execute(new IssueApiKeyCommand(existing.id, SYSTEM_ACTOR, this.config.adminToken));
      if (issued) this.logger.log(`Administrator ${email} now uses the key from ADMIN_TOKEN`);
    }
  }
}
