import { type CommandData, type Decider, decideBy, type DomainCommand } from '../eventsourcing/decider.js';
import { conflict, invalid, notFound } from '../platform/domain-errors.js';
import { APP_ROLES, type AppRole } from '../auth/principal.js';
import { defineStream, ruleProblem } from '../eventsourcing/event-catalog.js';
import { controlCharacterProblem, LINE_BREAKS_AND_TABS } from '../platform/text/control-characters.js';
import { validateName } from '../platform/text/identifier.rules.js';
import { APP_EVENTS, type AppEvent } from './app.events.js';

export interface AppState {
  status: 'new' | 'live' | 'deleted';
  name: string;
  label: string;
  description: string;
  contributors: Record<string, AppRole>;
}

/** What app commands ask; `ownerId` is who creates the app (its first Owner). */
export type AppCommand =
  | DomainCommand<'CreateApp', { appId: string; name: string; label?: string; description?: string; ownerId: string }>
  | DomainCommand<'UpdateApp', { label?: string; description?: string }>
  | DomainCommand<'AssignContributor', { userId: string; role: string }>
  | DomainCommand<'RemoveContributor', { userId: string }>
  | DomainCommand<'DeleteApp', Record<string, never>>;

export const appDecider: Decider<AppState, AppCommand, AppEvent> = {
  initialState: () => ({ status: 'new', name: '', label: '', description: '', contributors: {} }),
  decide: decideBy({
    CreateApp: createApp,
    UpdateApp: updateApp,
    AssignContributor: assignContributor,
    RemoveContributor: removeContributor,
    DeleteApp: deleteApp,
  }),
  evolve: (state, event) => {
    switch (event.type) {
      case 'AppCreated':
        return { ...state, status: 'live', name: event.data.name, label: event.data.label, description: event.data.description };
      case 'AppUpdated':
        return { ...state, label: event.data.label, description: event.data.description };
      case 'AppContributorAssigned':
        return { ...state, contributors: { ...state.contributors, [event.data.userId]: event.data.role } };
      case 'AppContributorRemoved': {
        const { [event.data.userId]: _removed, ...rest } = state.contributors;
        return { ...state, contributors: rest };
      }
      case 'AppDeleted':
        return { ...state, status: 'deleted' };
      case 'AppRolledBack':
        return state;
    }
  },
};

function live(state: AppState): void {
  if (state.status !== 'live') throw notFound('The app does not exist');
}

function createApp(state: AppState, c: CommandData<AppCommand, 'CreateApp'>): AppEvent[] {
  if (state.status !== 'new') throw conflict(`App ${c.appId} exists already`);
  validateName(c.name);
  return [
    { type: 'AppCreated', data: { appId: c.appId, name: c.name, label: c.label ?? c.name, description: c.description ?? '' } },
    { type: 'AppContributorAssigned', data: { userId: c.ownerId, role: 'Owner' } },
  ];
}

function updateApp(state: AppState, c: CommandData<AppCommand, 'UpdateApp'>): AppEvent[] {
  live(state);
  const label = c.label ?? state.label;
  const description = c.description ?? state.description;
  if (label === state.label && description === state.description) return [];
  // A value kept from before control characters were refused cannot be written again as it is.
  for (const [field, value, allowed] of [
    ['label', label, []],
    ['description', description, LINE_BREAKS_AND_TABS],
  ] as const) {
    const problem = controlCharacterProblem(value, allowed);
    if (problem) throw invalid(`${field}: the app's current ${field} ${problem}; it was set before such characters were refused, so give a new ${field} with this change`);
  }
  return [{ type: 'AppUpdated', data: { label, description } }];
}

const owners = (state: AppState) => Object.values(state.contributors).filter((r) => r === 'Owner').length;

function assignContributor(state: AppState, c: CommandData<AppCommand, 'AssignContributor'>): AppEvent[] {
  live(state);
  if (!(APP_ROLES as readonly string[]).includes(c.role)) throw invalid(`role: must be one of ${APP_ROLES.join(', ')}`);
  const role = c.role as AppRole;
  const current = state.contributors[c.userId];
  if (current === role) return [];
  if (current === 'Owner' && owners(state) === 1) throw conflict('An app needs at least one Owner; make someone else Owner first');
  return [{ type: 'AppContributorAssigned', data: { userId: c.userId, role } }];
}

function removeContributor(state: AppState, c: CommandData<AppCommand, 'RemoveContributor'>): AppEvent[] {
  live(state);
  const current = state.contributors[c.userId];
  if (!current) throw notFound(`User ${c.userId} is not a contributor of this app`);
  if (current === 'Owner' && owners(state) === 1) throw conflict('An app needs at least one Owner; the last Owner cannot be removed');
  return [{ type: 'AppContributorRemoved', data: { userId: c.userId } }];
}

function deleteApp(state: AppState): AppEvent[] {
  live(state);
  return [{ type: 'AppDeleted', data: { name: state.name } }];
}

/**
 * The app stream in the event catalog. An archived event passes when the command that writes it
 * would have: the app exists (or, for AppCreated, does not yet), contributors are users the
 * restore knows, and the app always keeps an Owner once it has one.
 */
export const appStream = defineStream<AppState, AppEvent>({
  kind: 'app',
  place: 'app',
  events: APP_EVENTS,
  decider: appDecider,
  // A diff compares the app's contributors, one entry each: who has which role.
  diff: {
    report: 'contributors',
    entries: (state) => (state.status === 'live' ? Object.entries(state.contributors).map(([userId, role]) => ({ id: userId, label: userId, properties: { role } })) : []),
  },
  // Contributors are users the events name: users.json lists them, a restore maps them.
  users: {
    each: (event, visit) => {
      if (event.type === 'AppContributorAssigned' || event.type === 'AppContributorRemoved') visit(event.data.userId);
    },
    map: (event, to) => {
      if (event.type === 'AppContributorAssigned') return { ...event, data: { ...event.data, userId: to(event.data.userId) } };
      if (event.type === 'AppContributorRemoved') return { ...event, data: { ...event.data, userId: to(event.data.userId) } };
      return event;
    },
  },
  check: (state, event, context) => {
    switch (event.type) {
      case 'AppCreated':
        if (state.status !== 'new') return 'the app exists already; AppCreated must be its first event';
        return ruleProblem(() => validateName(event.data.name));
      case 'AppUpdated':
        return ruleProblem(() => updateApp(state, event.data));
      case 'AppContributorAssigned':
        if (!context.knowsUser(event.data.userId)) return `user ${event.data.userId} is not in users.json`;
        return ruleProblem(() => assignContributor(state, event.data));
      case 'AppContributorRemoved':
        return ruleProblem(() => removeContributor(state, event.data));
      case 'AppDeleted':
        return ruleProblem(() => deleteApp(state));
      case 'AppRolledBack':
        return state.status === 'live' ? undefined : 'the app does not exist at this point';
    }
  },
});
