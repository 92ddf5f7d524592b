import { Injectable } from '@nestjs/common';
import { Readable } from 'node:stream';
import { z } from 'zod';
import type { BackupContext, BackupHandler, RestoreContext } from '../backup/backup-handler.port.js';
import { type ArchivedUser, USERS_ENTRY } from '../backup/archive/archive-format.js';
import { InvalidArchiveError, readBoundedText } from '../backup/archive/archive-reader.js';
import { UsersService } from './users.service.js';

/** users.json is one JSON document; it is bounded by the number of people an app names. */
const MAX_USERS_JSON_BYTES = 64 * 1024 * 1024;

const ArchivedUsers = z.array(z.object({ id: z.string().min(1), email: z.string().min(3), displayName: z.string() }));

/**
 * Writes users.json (id, email, display name of every user the events name — never keys) and, on
 * restore, maps each archived user to this installation's user with the same email, creating
 * the missing ones without an API key.
 */
@Injectable()
export class UsersBackupHandler implements BackupHandler {
  readonly name = 'users';

  constructor(private readonly users: UsersService) {}

  async completeBackup(context: BackupContext): Promise<void> {
    const written: ArchivedUser[] = [];
    for (const id of [...context.mentionedUsers].sort()) {
      const user = await this.users.get(id);
      if (!user) {
        context.warn(`User ${id} is named by the events but unknown to this installation; restores will attribute their events to the system`);
        continue;
      }
      written.push({ id: user.id, email: user.email, displayName: user.displayName });
    }
    const bytes = Buffer.from(JSON.stringify(written, null, 2), 'utf8');
    await context.addEntry(USERS_ENTRY, async () => Readable.from([bytes]), { compress: true });
    context.counts.users = written.length;
  }

  async prepareRestore(context: RestoreContext): Promise<void> {
    if (!context.hasEntry(USERS_ENTRY)) {
      context.log('The archive has no users.json; every event will be attributed to the system');
      return;
    }
    const text = await readBoundedText(await context.openEntry(USERS_ENTRY), MAX_USERS_JSON_BYTES);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new InvalidArchiveError('users.json is not valid JSON');
    }
    const parsed = ArchivedUsers.safeParse(json);
    if (!parsed.success) throw new InvalidArchiveError(`users.json is not a list of { id, email, displayName }: ${parsed.error.issues[0]?.message ?? ''}`);
    let created = 0;
    for (const archived of parsed.data) {
      const existed = await this.users.findByEmail(archived.email);
      const user = existed ?? (await this.users.ensureByEmail(archived.email, archived.displayName, context.actor));
      if (!existed) created += 1;
      context.setUserMapping(archived.id, user.id);
    }
    context.log(`Users: ${parsed.data.length} in the archive, ${parsed.data.length - created} matched by email, ${created} created without API keys`);
  }
}
