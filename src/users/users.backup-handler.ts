import { Injectable } from '@nestjs/common';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { randomUUID } from 'node:crypto';
import type { BackupContext, BackupHandler, CleanupContext, RestoreContext } from '../backup/backup-handler.port.js';
import { checkEmail } from '../platform/email.js';
import { describeIssues, entityId } from '../eventsourcing/event-catalog.js';
import { parseBoundedJson } from '../platform/json/bounded-json.js';
import { quoted } from '../platform/text/control-characters.js';
import { singleLine } from '../platform/text/plain-text.checks.js';
import { DISPLAY_NAME_MAX } from './user.events.js';
import { type ArchivedUser, USERS_ENTRY } from '../archive/archive-format.js';
import { InvalidArchiveError, readBoundedText } from '../archive/archive-reader.js';
import { UsersService } from './users.service.js';

/** users.json is one JSON document; it is bounded by the number of people an app names. */
const MAX_USERS_JSON_BYTES = 64 * 1024 * 1024;

const ArchivedUsers = z.array(z.strictObject({ id: entityId(), email: z.string().min(3).max(254).check(singleLine()), displayName: z.string().max(DISPLAY_NAME_MAX).check(singleLine()) })).max(100_000);
/** RestoreContext.remember key: users a restore created. */
const CREATED_USERS = 'created-users';

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
    const json = parseBoundedJson(text, 4);
    if ('problem' in json) throw new InvalidArchiveError(`users.json cannot be read: ${json.problem}`);
    const parsed = ArchivedUsers.safeParse(json.value);
    if (!parsed.success) throw new InvalidArchiveError(`users.json is not a list of { id, email, displayName }: ${describeIssues(parsed.error, 'users.json')}`);
    const seen = new Set<string>();
    const mapped: { archived: { id: string; displayName: string }; email: string }[] = [];
    for (const [index, archived] of parsed.data.entries()) {
      if (seen.has(archived.id)) throw new InvalidArchiveError(`users.json lists user ${archived.id} twice`);
      seen.add(archived.id);
      const checked = checkEmail(archived.email);
      if ('problem' in checked) throw new InvalidArchiveError(`users.json entry ${index + 1}: the email ${quoted(archived.email, 100)} ${checked.problem}`);
      mapped.push({ archived, email: checked.email });
    }
    let created = 0;
    // Two entries whose emails normalise alike are one person here: both map to one account.
    const byEmail = new Map<string, string>();
    for (const { archived, email } of mapped) {
      let userId = byEmail.get(email) ?? (await this.users.findByEmail(email))?.id;
      if (!userId) {
        userId = randomUUID();
        // Noted before it exists, so a failed restore (or a crash) removes it again.
        await context.remember(CREATED_USERS, userId);
        await this.users.createForRestore(userId, email, archived.displayName, context.actor);
        created += 1;
      }
      byEmail.set(email, userId);
      context.setUserMapping(archived.id, userId);
    }
    context.log(`Users: ${mapped.length} in the archive, ${mapped.length - created} matched by email, ${created} created without API keys`);
  }

  /** Users this restore created go again, unless someone came to rely on them meanwhile. */
  async cleanupRestore(context: CleanupContext): Promise<void> {
    let removed = 0;
    for (const userId of context.remembered(CREATED_USERS)) {
      if ((await this.users.removeCreatedByRestore(userId, context.targetAppId)) !== 'kept') removed += 1;
    }
    if (removed > 0) context.log(`Removed the ${removed} user(s) the restore had created`);
  }
}
