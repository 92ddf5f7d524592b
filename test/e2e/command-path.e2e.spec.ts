import { CommandBus, EventBus, EventsHandler, type IEventHandler, ofType } from '@nestjs/cqrs';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import type { Subscription } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChangeContentStatusCommand } from '../../src/contents/content.commands.js';
import { EventsAppended, EventWriter } from '../../src/eventsourcing/event-writer.service.js';
import { EVENT_STORE, type EventStore, type StoredEvent, streams } from '../../src/infrastructure/event-store/event-store.port.js';
import { startServer, type TestServer } from '../support/test-server.js';

/** What a subscriber saw, and what the store held for that stream at the moment it saw it. */
interface Seen {
  appended: EventsAppended;
  storedVersion: Promise<number>;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!condition()) throw new Error(`Gave up waiting for ${what}`);
}

async function storedEvents(store: EventStore, stream: string): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  for await (const event of store.readStream(stream)) events.push(event);
  return events;
}

describe('the command path', () => {
  let server: TestServer;
  let store: EventStore;
  let appId: string;
  let subscription: Subscription;
  const seen: Seen[] = [];
  const ofStream = (stream: string) => seen.filter((s) => s.appended.stream === stream);

  beforeAll(async () => {
    server = await startServer();
    store = server.app.get<EventStore>(EVENT_STORE);
    subscription = server.app
      .get(EventBus)
      .pipe(ofType(EventsAppended))
      // The store's answer is read at once, in the subscriber's turn: what it held when the event was published.
      .subscribe((appended) => seen.push({ appended, storedVersion: store.streamVersion(appended.stream) }));
    const app = await server.admin.post('/api/apps', { name: 'bus' });
    expect(app.status).toBe(201);
    appId = app.body.id;
    expect((await server.admin.post('/api/apps/bus/schemas', { name: 'notes', fields: [{ name: 'title', type: 'String', required: true }] })).status).toBe(201);
  });
  afterAll(async () => {
    // The last command's events may be published after its answer: no reads of a closed store.
    subscription?.unsubscribe();
    await server?.close();
  });

  it('publishes what each command appended on the EventBus once it is stored: events, stream versions, metadata and the position', async () => {
    const created = await server.admin.post('/api/apps/bus/content/notes', { data: { title: 'first' } });
    expect(created.status).toBe(201);
    const stream = streams.child('content', appId, created.body.id);
    await until(() => ofStream(stream).length === 1, 'the create to be published');
    const [published] = ofStream(stream);
    const stored = await storedEvents(store, stream);
    expect(published!.appended.events).toEqual([{ type: 'ContentCreated', data: stored[0]!.data, metadata: stored[0]!.metadata, streamVersion: 0 }]);
    expect(published!.appended.events[0]!.metadata).toMatchObject({ appId, actor: expect.any(String) });
    expect(published!.appended.position).toBe(stored[0]!.position);
    expect(await published!.storedVersion).toBe(0);

    // Two events in one append: one envelope, the position of its last event.
    const appStream = streams.app(appId);
    const [appCreated] = ofStream(appStream);
    const appEvents = await storedEvents(store, appStream);
    expect(appCreated!.appended.events.map((e) => [e.type, e.streamVersion])).toEqual([
      ['AppCreated', 0],
      ['AppContributorAssigned', 1],
    ]);
    expect(appCreated!.appended.position).toBe(appEvents[1]!.position);
    expect(await appCreated!.storedVersion).toBeGreaterThanOrEqual(1);
  });

  it('publishes nothing for a command that changes nothing or is refused', async () => {
    const created = await server.admin.post('/api/apps/bus/content/notes', { data: { title: 'quiet' } });
    const stream = streams.child('content', appId, created.body.id);
    const url = `/api/apps/bus/content/notes/${created.body.id}`;
    expect((await server.admin.put(`${url}/status`, { status: 'Draft' })).status).toBe(200);
    expect((await server.admin.put(url, { data: { title: 'stale' } }, { 'if-match': '7' })).status).toBe(409);
    expect((await server.admin.put(`${url}/status`, { status: 'Published' })).status).toBe(200);
    await until(() => ofStream(stream).length === 2, 'the status change to be published');
    expect(ofStream(stream).map((s) => s.appended.events.map((e) => [e.type, e.streamVersion]))).toEqual([[['ContentCreated', 0]], [['ContentStatusChanged', 1]]]);
  });

  describe('when another write reaches the stream between the load and the append', () => {
    /** Makes the next load of `stream` let another command write to it first, as a concurrent request would. */
    function interleave(stream: string, write: () => Promise<unknown>): void {
      const writer = server.app.get(EventWriter);
      const load = writer.load.bind(writer);
      let armed = true;
      writer.load = async (loading, fold) => {
        const loaded = await load(loading, fold);
        if (armed && loading === stream) {
          armed = false;
          await write();
        }
        return loaded;
      };
    }
    const bus = () => server.app.get(CommandBus);

    it('decides again on the stream as it now is when the command carries no If-Match', async () => {
      const created = await server.admin.post('/api/apps/bus/content/notes', { data: { title: 'draft' } });
      const target = { appId, schemaName: 'notes', contentId: created.body.id };
      interleave(streams.child('content', appId, created.body.id), () => bus().execute(new ChangeContentStatusCommand(target, 'Published', 'someone-else')));
      const updated = await server.admin.put(`/api/apps/bus/content/notes/${created.body.id}`, { data: { title: 'edited' } });
      expect(updated.status).toBe(200);
      expect(updated.body).toMatchObject({ version: 2, status: 'Published', data: { title: 'edited' } });
    });

    it('answers 409 when the command names the version it was made on (If-Match)', async () => {
      const created = await server.admin.post('/api/apps/bus/content/notes', { data: { title: 'draft' } });
      const target = { appId, schemaName: 'notes', contentId: created.body.id };
      interleave(streams.child('content', appId, created.body.id), () => bus().execute(new ChangeContentStatusCommand(target, 'Published', 'someone-else')));
      const stale = await server.admin.put(`/api/apps/bus/content/notes/${created.body.id}`, { data: { title: 'edited' } }, { 'if-match': '0' });
      expect(stale.status).toBe(409);
      expect(stale.body.message).toBe('The resource was changed by someone else (it is at version 1, expected 0); reload it and try again');
      expect((await server.admin.get(`/api/apps/bus/content/notes/${created.body.id}`)).body).toMatchObject({ version: 1, status: 'Published', data: { title: 'draft' } });
    });
  });

  it('answers commands whatever subscribers do: one that throws, one that never finishes', async () => {
    @EventsHandler(EventsAppended)
    class ThrowingSubscriber implements IEventHandler<EventsAppended> {
      calls = 0;
      handle(): void {
        this.calls += 1;
        throw new Error('a subscriber that fails');
      }
    }
    @EventsHandler(EventsAppended)
    class StuckSubscriber implements IEventHandler<EventsAppended> {
      calls = 0;
      handle(): Promise<void> {
        this.calls += 1;
        return new Promise(() => undefined);
      }
    }
    const throwing = new ThrowingSubscriber();
    const stuck = new StuckSubscriber();
    // Registered as the CQRS module registers the @EventsHandler classes it finds.
    const wrap = (instance: IEventHandler<EventsAppended>) => ({ metatype: instance.constructor, instance, isDependencyTreeStatic: () => true }) as unknown as InstanceWrapper<IEventHandler<EventsAppended>>;
    server.app.get(EventBus).register([wrap(throwing), wrap(stuck)]);

    for (const title of ['one', 'two', 'three']) {
      const created = await server.admin.post('/api/apps/bus/content/notes', { data: { title } });
      expect(created.status).toBe(201);
      expect((await server.admin.get(`/api/apps/bus/content/notes/${created.body.id}`)).body.data).toEqual({ title });
    }
    await until(() => throwing.calls >= 3 && stuck.calls >= 3, 'both subscribers to be called');
    expect((await server.admin.post('/api/apps/bus/content/notes', { data: { title: 'four' } })).status).toBe(201);
  });
});
