import { describe, it } from 'vitest';
import { type UserCommand, userDecider } from '../../src/users/user.aggregate.js';
import type { CommandData } from '../../src/eventsourcing/decider.js';
import type { UserEvent } from '../../src/users/user.events.js';
import { spec } from '../support/given-when-then.js';

const user = spec(userDecider);
const base = { userId: 'u1', email: ' Ann@Example.COM ', admin: false, emailTaken: false };
const createUser = (data: CommandData<UserCommand, 'CreateUser'>): UserCommand => ({ type: 'CreateUser', data });
const issueApiKey = (keyHash: string): UserCommand => ({ type: 'IssueApiKey', data: { keyHash } });

describe('user rules', () => {
  it('creates a user with a normalised email and a default display name', () => {
    user.given([]).when(createUser(base)).then([{ type: 'UserCreated', data: { userId: 'u1', email: 'ann@example.com', displayName: 'ann', admin: false } }]);
  });

  it('records only the hash of an issued key', () => {
    user
      .given([])
      .when(createUser({ ...base, displayName: 'Ann', keyHash: 'h1' }))
      .then([
        { type: 'UserCreated', data: { userId: 'u1', email: 'ann@example.com', displayName: 'Ann', admin: false } },
        { type: 'UserApiKeyIssued', data: { keyHash: 'h1' } },
      ]);
  });

  it('refuses a taken email, a bad email and a second create', () => {
    user.given([]).when(createUser({ ...base, emailTaken: true })).thenThrows('conflict', /ann@example.com/);
    user.given([]).when(createUser({ ...base, email: 'nope' })).thenThrows('invalid', /email/);
    const created: UserEvent[] = [{ type: 'UserCreated', data: { userId: 'u1', email: 'ann@example.com', displayName: 'Ann', admin: false } }];
    user.given(created).when(createUser(base)).thenThrows('conflict');
  });

  it('issues a new key only when it differs', () => {
    const withKey: UserEvent[] = [
      { type: 'UserCreated', data: { userId: 'u1', email: 'ann@example.com', displayName: 'Ann', admin: true } },
      { type: 'UserApiKeyIssued', data: { keyHash: 'h1' } },
    ];
    user.given(withKey).when(issueApiKey('h1')).then([]);
    user.given(withKey).when(issueApiKey('h2')).then([{ type: 'UserApiKeyIssued', data: { keyHash: 'h2' } }]);
    user.given([]).when(issueApiKey('h2')).thenThrows('invalid');
  });
});
