import { checkEmail } from '../platform/email.js';
import { quoted } from '../platform/text/control-characters.js';
import { type CommandData, type Decider, decideBy, type DomainCommand } from '../eventsourcing/decider.js';
import { conflict, invalid } from '../platform/domain-errors.js';
import { defineStream } from '../eventsourcing/event-catalog.js';
import { USER_EVENTS, type UserApiKeyIssued, type UserCreated, type UserEvent } from './user.events.js';

export interface UserState {
  exists: boolean;
  email: string;
  keyHash?: string;
}

/**
 * What user commands ask. Emails are unique across the installation, so whoever sends CreateUser
 * looks the email up (serialised by a claim) and passes the answer in `emailTaken`. Keys arrive
 * hashed: the clear key never reaches an event.
 */
export type UserCommand =
  | DomainCommand<'CreateUser', { userId: string; email: string; displayName?: string; admin: boolean; emailTaken: boolean; keyHash?: string }>
  | DomainCommand<'IssueApiKey', { keyHash: string }>;

export const userDecider: Decider<UserState, UserCommand, UserEvent> = {
  initialState: () => ({ exists: false, email: '' }),
  decide: decideBy({
    CreateUser: createUser,
    IssueApiKey: issueApiKey,
  }),
  evolve: (state, event) => {
    switch (event.type) {
      case 'UserCreated':
        return { ...state, exists: true, email: event.data.email };
      case 'UserApiKeyIssued':
        return { ...state, keyHash: event.data.keyHash };
    }
  },
};

export { normalizeEmail } from '../platform/email.js';

function createUser(state: UserState, command: CommandData<UserCommand, 'CreateUser'>): UserEvent[] {
  if (state.exists) throw conflict(`User ${command.userId} exists already`);
  const checked = checkEmail(command.email);
  if ('problem' in checked) throw invalid(`email: ${quoted(command.email, 100)} ${checked.problem}`);
  const email = checked.email;
  if (command.emailTaken) throw conflict(`A user with email ${email} exists already`);
  const created: UserCreated = {
    type: 'UserCreated',
    data: { userId: command.userId, email, displayName: command.displayName?.trim() || email.split('@')[0]!, admin: command.admin },
  };
  const events: UserEvent[] = [created];
  if (command.keyHash) events.push({ type: 'UserApiKeyIssued', data: { keyHash: command.keyHash } } satisfies UserApiKeyIssued);
  return events;
}

function issueApiKey(state: UserState, { keyHash }: CommandData<UserCommand, 'IssueApiKey'>): UserEvent[] {
  if (!state.exists) throw invalid('Cannot issue a key to a user that does not exist');
  if (state.keyHash === keyHash) return [];
  return [{ type: 'UserApiKeyIssued', data: { keyHash } }];
}

/** The user stream in the event catalog. User streams are never in an archive, so nothing checks them from outside. */
export const userStream = defineStream<UserState, UserEvent>({
  kind: 'user',
  place: 'installation',
  events: USER_EVENTS,
  decider: userDecider,
  check: () => 'user events are never part of an app archive',
});
