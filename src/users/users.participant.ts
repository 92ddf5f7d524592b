import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { type ArchivedUser, CREDENTIALS_ENTRY, USERS_ENTRY } from '../archive/archive-format.js';
import type { ArchiveParticipant, RestoreContext, RestoreParticipant, RestoreSession } from '../archive/archive-participant.port.js';
import { InvalidArchiveError, readBoundedText } from '../archive/archive-reader.js';
import { describeIssues, entityId } from '../eventsourcing/event-catalog.js';
import { checkEmail } from '../platform/email.js';
import { parseBoundedJson } from '../platform/json/bounded-json.js';
import { quoted } from '../platform/text/control-characters.js';
import { singleLine } from '../platform/text/plain-text.checks.js';
import { DISPLAY_NAME_MAX } from './user.events.js';
import type { UsersService } from './users.service.js';

/** users.json is one JSON document; it is bounded by the number of people an app names. */
const MAX_USERS_JSON_BYTES = 64 * 1024 * 1024;

/** credentials.json: a key hash per user of users.json that had a key. */
const ArchivedCredentials = z.array(z.strictObject({ id: entityId(), keyHash: z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 in lowercase hex') })).max(100_000);

const ArchivedUsers = z.array(z.strictObject({ id: entityId(), email: z.string().min(3).max(254).check(singleLine()), displayName: z.string().max(DISPLAY_NAME_MAX).check(singleLine()) })).max(100_000);
/** RestoreContext.remember key: users a restore created. */
const CREATED_USERS = 'created-users';

/**
 * On restore (and in its rehearsals, offline too): maps each archived user to this installation's
 * user with the same email, creating the missing ones without an API key.
 */
export const usersRestore: RestoreParticipant = {
  name: 'users',
  restore: mapUsers,
};

/**
 * Writes users.json (id, email, display name of every user the events name — never keys) and, on
 * restore, maps the archive's users (usersRestore); a failed restore removes the users it created.
 */
export function usersParticipant(users: Pick<UsersService, 'get' | 'removeCreatedByRestore'>): ArchiveParticipant {
  return {
    ...usersRestore,
    backup: (context) => ({
      async complete() {
        const written: ArchivedUser[] = [];
        for (const id of [...context.mentionedUsers].sort()) {
          const user = await users.get(id);
          if (!user) {
            context.warn(`User ${id} is named by the events but unknown to this installation; restores will attribute their events to the system`);
            continue;
          }
          written.push({ id: user.id, email: user.email, displayName: user.displayName });
        }
        const bytes = Buffer.from(JSON.stringify(written, null, 2), 'utf8');
        await context.addEntry(USERS_ENTRY, async () => Readable.from([bytes]), { compress: true });
        context.counts.users = written.length;
        if (context.credentials) {
          // Asked for by an admin, and only into an encrypted archive (BackupsService): the hashes, never a key.
          const credentials = [];
          for (const { id } of written) {
            const user = await users.get(id);
            if (user?.apiKeyHash) credentials.push({ id, keyHash: user.apiKeyHash });
          }
          const text = Buffer.from(JSON.stringify(credentials, null, 2), 'utf8');
          await context.addEntry(CREDENTIALS_ENTRY, async () => Readable.from([text]), { compress: true });
        }
      },
    }),
    /** Users this restore created go again, unless someone came to rely on them meanwhile. */
    async cleanup(context) {
      let removed = 0;
      for (const userId of context.remembered(CREATED_USERS)) {
        if ((await users.removeCreatedByRestore(userId, context.targetAppId)) !== 'kept') removed += 1;
      }
      if (removed > 0) context.log(`Removed the ${removed} user(s) the restore had created`);
    },
  };
}

async function mapUsers(context: RestoreContext): Promise<RestoreSession> {
  if (!context.hasEntry(USERS_ENTRY)) {
    context.log('The archive has no users.json; every event will be attributed to the system');
    return {};
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
  const keyHashes = await readCredentials(context, seen);
  let created = 0;
  let signedIn = 0;
  // Two entries whose emails normalise alike are one person here: both map to one account.
  const byEmail = new Map<string, string>();
  for (const { archived, email } of mapped) {
    let userId = byEmail.get(email) ?? (await context.sink.findUser(email))?.id;
    if (!userId) {
      userId = randomUUID();
      const keyHash = keyHashes.get(archived.id);
      // Noted before it exists, so a failed restore (or a crash) removes it again.
      await context.remember(CREATED_USERS, userId);
      await context.sink.createUser({ id: userId, email, displayName: archived.displayName, ...(keyHash ? { keyHash } : {}) });
      created += 1;
      if (keyHash) signedIn += 1;
    }
    byEmail.set(email, userId);
    context.setUserMapping(archived.id, userId);
  }
  const keys = keyHashes.size > 0 ? `${created - signedIn} created without API keys, ${signedIn} created with the API key they had (credentials.json); users matched by email keep their own keys here` : `${created} created without API keys`;
  context.log(`Users: ${mapped.length} in the archive, ${mapped.length - created} matched by email, ${keys}`);
  return {};
}

/**
 * The key hashes of credentials.json, by archived user id, when the archive holds them and came
 * encrypted: a plain archive's are never used (whoever could read it could have changed them),
 * and one that names a user users.json lacks is refused.
 */
async function readCredentials(context: RestoreContext, archivedUsers: ReadonlySet<string>): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  if (!context.hasEntry(CREDENTIALS_ENTRY)) return hashes;
  const text = await readBoundedText(await context.openEntry(CREDENTIALS_ENTRY), MAX_USERS_JSON_BYTES);
  const json = parseBoundedJson(text, 4);
  if ('problem' in json) throw new InvalidArchiveError(`credentials.json cannot be read: ${json.problem}`);
  const parsed = ArchivedCredentials.safeParse(json.value);
  if (!parsed.success) throw new InvalidArchiveError(`credentials.json is not a list of { id, keyHash }: ${describeIssues(parsed.error, 'credentials.json')}`);
  for (const { id, keyHash } of parsed.data) {
    if (!archivedUsers.has(id)) throw new InvalidArchiveError(`credentials.json names user ${id}, whom users.json does not list`);
    hashes.set(id, keyHash);
  }
  if (!context.encrypted) {
    context.log('The archive holds credentials.json, but it was not encrypted: its key hashes are not used, and the users it creates have no API keys');
    return new Map();
  }
  return hashes;
}
