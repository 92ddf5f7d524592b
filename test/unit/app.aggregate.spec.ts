import { describe, it } from 'vitest';
import { appDecider, assignContributor, createApp, deleteApp, removeContributor, updateApp } from '../../src/apps/app.aggregate.js';
import type { AppEvent } from '../../src/apps/app.events.js';
import { spec } from '../support/given-when-then.js';

const app = spec(appDecider);
const created: AppEvent[] = [
  { type: 'AppCreated', data: { appId: 'a1', name: 'shop', label: 'Shop', description: '' } },
  { type: 'AppContributorAssigned', data: { userId: 'u1', role: 'Owner' } },
];

describe('app rules', () => {
  it('creates an app with its creator as Owner', () => {
    app.given([]).when((s) => createApp(s, { appId: 'a1', name: 'shop', label: 'Shop', ownerId: 'u1' })).then(created);
  });

  it('refuses invalid names and a second create', () => {
    app.given([]).when((s) => createApp(s, { appId: 'a1', name: 'Bad_Name', ownerId: 'u1' })).thenThrows('invalid', /name/);
    app.given(created).when((s) => createApp(s, { appId: 'a1', name: 'shop', ownerId: 'u1' })).thenThrows('conflict');
  });

  it('updates only what changes', () => {
    app.given(created).when((s) => updateApp(s, { label: 'Shop' })).then([]);
    app.given(created).when((s) => updateApp(s, { description: 'x' })).then([{ type: 'AppUpdated', data: { label: 'Shop', description: 'x' } }]);
  });

  it('asks for a new label when the one kept from before holds a control character', () => {
    const legacy: AppEvent[] = [{ type: 'AppCreated', data: { appId: 'a1', name: 'shop', label: 'Shop\u001b[2J', description: 'a\r\nb' } }];
    app.given(legacy).when((s) => updateApp(s, { description: 'x' })).thenThrows('invalid', /^label: the app's current label contains a control character \(U\+001B\); .*give a new label/);
    app.given(legacy).when((s) => updateApp(s, { label: 'Shop' })).thenThrows('invalid', /^description: the app's current description contains a control character \(U\+000D\)/);
    app.given(legacy).when((s) => updateApp(s, { label: 'Shop', description: 'b' })).then([{ type: 'AppUpdated', data: { label: 'Shop', description: 'b' } }]);
  });

  it('checks roles and keeps at least one Owner', () => {
    app.given(created).when((s) => assignContributor(s, { userId: 'u2', role: 'Emperor' })).thenThrows('invalid', /role/);
    app.given(created).when((s) => assignContributor(s, { userId: 'u1', role: 'Reader' })).thenThrows('conflict', /Owner/);
    app.given(created).when((s) => removeContributor(s, { userId: 'u1' })).thenThrows('conflict', /Owner/);
    app.given(created).when((s) => removeContributor(s, { userId: 'u9' })).thenThrows('not-found');
    app
      .given([...created, { type: 'AppContributorAssigned', data: { userId: 'u2', role: 'Owner' } }])
      .when((s) => assignContributor(s, { userId: 'u1', role: 'Reader' }))
      .then([{ type: 'AppContributorAssigned', data: { userId: 'u1', role: 'Reader' } }]);
    app.given(created).when((s) => assignContributor(s, { userId: 'u1', role: 'Owner' })).then([]);
  });

  it('treats a deleted app as gone', () => {
    app.given(created).when(deleteApp).then([{ type: 'AppDeleted', data: { name: 'shop' } }]);
    const deleted: AppEvent[] = [...created, { type: 'AppDeleted', data: { name: 'shop' } }];
    app.given(deleted).when((s) => updateApp(s, { label: 'x' })).thenThrows('not-found');
    app.given(deleted).when(deleteApp).thenThrows('not-found');
    app.given(deleted).when((s) => assignContributor(s, { userId: 'u2', role: 'Reader' })).thenThrows('not-found');
  });
});
