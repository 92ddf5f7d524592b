import { describe, it } from 'vitest';
import { type AppCommand, appDecider } from '../../src/apps/app.aggregate.js';
import type { AppEvent } from '../../src/apps/app.events.js';
import type { CommandData } from '../../src/eventsourcing/decider.js';
import { spec } from '../support/given-when-then.js';

const app = spec(appDecider);
const createApp = (data: Omit<CommandData<AppCommand, 'CreateApp'>, 'appId' | 'ownerId'>): AppCommand => ({ type: 'CreateApp', data: { appId: 'a1', ownerId: 'u1', ...data } });
const updateApp = (data: { label?: string; description?: string }): AppCommand => ({ type: 'UpdateApp', data });
const assignContributor = (userId: string, role: string): AppCommand => ({ type: 'AssignContributor', data: { userId, role } });
const removeContributor = (userId: string): AppCommand => ({ type: 'RemoveContributor', data: { userId } });
const deleteApp: AppCommand = { type: 'DeleteApp', data: {} };
const created: AppEvent[] = [
  { type: 'AppCreated', data: { appId: 'a1', name: 'shop', label: 'Shop', description: '' } },
  { type: 'AppContributorAssigned', data: { userId: 'u1', role: 'Owner' } },
];

describe('app rules', () => {
  it('creates an app with its creator as Owner', () => {
    app.given([]).when(createApp({ name: 'shop', label: 'Shop' })).then(created);
  });

  it('refuses invalid names and a second create', () => {
    app.given([]).when(createApp({ name: 'Bad_Name' })).thenThrows('invalid', /name/);
    app.given(created).when(createApp({ name: 'shop' })).thenThrows('conflict');
  });

  it('updates only what changes', () => {
    app.given(created).when(updateApp({ label: 'Shop' })).then([]);
    app.given(created).when(updateApp({ description: 'x' })).then([{ type: 'AppUpdated', data: { label: 'Shop', description: 'x' } }]);
  });

  it('asks for a new label when the one kept from before holds a control character', () => {
    const legacy: AppEvent[] = [{ type: 'AppCreated', data: { appId: 'a1', name: 'shop', label: 'Shop\u001b[2J', description: 'a\r\nb' } }];
    app.given(legacy).when(updateApp({ description: 'x' })).thenThrows('invalid', /^label: the app's current label contains a control character \(U\+001B\); .*give a new label/);
    app.given(legacy).when(updateApp({ label: 'Shop' })).thenThrows('invalid', /^description: the app's current description contains a control character \(U\+000D\)/);
    app.given(legacy).when(updateApp({ label: 'Shop', description: 'b' })).then([{ type: 'AppUpdated', data: { label: 'Shop', description: 'b' } }]);
  });

  it('checks roles and keeps at least one Owner', () => {
    app.given(created).when(assignContributor('u2', 'Emperor')).thenThrows('invalid', /role/);
    app.given(created).when(assignContributor('u1', 'Reader')).thenThrows('conflict', /Owner/);
    app.given(created).when(removeContributor('u1')).thenThrows('conflict', /Owner/);
    app.given(created).when(removeContributor('u9')).thenThrows('not-found');
    app
      .given([...created, { type: 'AppContributorAssigned', data: { userId: 'u2', role: 'Owner' } }])
      .when(assignContributor('u1', 'Reader'))
      .then([{ type: 'AppContributorAssigned', data: { userId: 'u1', role: 'Reader' } }]);
    app.given(created).when(assignContributor('u1', 'Owner')).then([]);
  });

  it('treats a deleted app as gone', () => {
    app.given(created).when(deleteApp).then([{ type: 'AppDeleted', data: { name: 'shop' } }]);
    const deleted: AppEvent[] = [...created, { type: 'AppDeleted', data: { name: 'shop' } }];
    app.given(deleted).when(updateApp({ label: 'x' })).thenThrows('not-found');
    app.given(deleted).when(deleteApp).thenThrows('not-found');
    app.given(deleted).when(assignContributor('u2', 'Reader')).thenThrows('not-found');
  });
});
