import { describe, expect, it } from 'vitest';
import { isIsoDateTime, sameData, searchableText, validateData } from '../../src/contents/content-data.validation.js';
import { type ContentCommand, contentDecider, type SchemaRef } from '../../src/contents/content.aggregate.js';
import type { ContentEvent } from '../../src/contents/content.events.js';
import { fold } from '../../src/eventsourcing/decider.js';
import { spec } from '../support/given-when-then.js';

const { given } = spec(contentDecider);

const schema: SchemaRef = {
  id: 's1',
  name: 'products',
  fields: [
    { name: 'title', type: 'String', required: true },
    { name: 'price', type: 'Number', required: false },
    { name: 'inStock', type: 'Boolean', required: false },
    { name: 'released', type: 'DateTime', required: false },
    { name: 'meta', type: 'Json', required: false },
    { name: 'images', type: 'Assets', required: false },
    { name: 'related', type: 'References', required: false },
  ],
};
const otherSchema: SchemaRef = { id: 's2', name: 'posts', fields: [{ name: 'title', type: 'String', required: true }] };

const created: ContentEvent = { type: 'ContentCreated', data: { contentId: 'c1', schemaId: 's1', schemaName: 'products', data: { title: 'Lamp' }, status: 'Draft' } };
const updated: ContentEvent = { type: 'ContentUpdated', data: { data: { title: 'Desk lamp', price: 20 } } };
const archived: ContentEvent = { type: 'ContentStatusChanged', data: { status: 'Archived' } };
const deleted: ContentEvent = { type: 'ContentDeleted', data: {} };

const createContent = (data: unknown, publish: boolean): ContentCommand => ({ type: 'CreateContent', data: { contentId: 'c1', schema, data, publish } });
const update = (data: unknown, expectedVersion?: number, on = schema): ContentCommand => ({ type: 'UpdateContent', data: { contentId: 'c1', schema: on, data, expectedVersion } });
const setStatus = (status: string, expectedVersion?: number, on = schema): ContentCommand => ({ type: 'ChangeContentStatus', data: { contentId: 'c1', schema: on, status, expectedVersion } });
const remove = (expectedVersion?: number, on = schema): ContentCommand => ({ type: 'DeleteContent', data: { contentId: 'c1', schema: on, expectedVersion } });

describe('content aggregate', () => {
  describe('create', () => {
    it('creates a Draft, or a Published content when asked to publish', () => {
      given([])
        .when(createContent({ title: 'Lamp' }, false))
        .then([created]);
      given([])
        .when(createContent({ title: 'Lamp' }, true))
        .then([{ ...created, data: { ...(created.data as object), status: 'Published' } } as ContentEvent]);
    });

    it('accepts a value of every field type', () => {
      const data = {
        title: 'Lamp',
        price: 19.5,
        inStock: false,
        released: '2024-05-01T12:00:00.000Z',
        meta: { nested: [1, 'two', null] },
        images: ['a1', 'a2'],
        related: [],
      };
      given([])
        .when(createContent(data, false))
        .then([{ type: 'ContentCreated', data: { contentId: 'c1', schemaId: 's1', schemaName: 'products', data, status: 'Draft' } }]);
    });

    it('refuses data that breaks the schema, naming each field', () => {
      const create = (data: unknown) => createContent(data, false);
      given([]).when(create({ title: 'x', colour: 'red' })).thenThrows('invalid', /data\.colour: schema "products" has no field "colour"; its fields are title, price/);
      given([]).when(create({ price: 3 })).thenThrows('invalid', /data\.title: is required/);
      given([]).when(create({ title: null })).thenThrows('invalid', /data\.title: is required/);
      given([]).when(create({ title: 5 })).thenThrows('invalid', /data\.title: must be a String/);
      given([]).when(create({ title: 'x', price: '3' })).thenThrows('invalid', /data\.price: must be a Number/);
      given([]).when(create({ title: 'x', inStock: 'yes' })).thenThrows('invalid', /data\.inStock: must be a Boolean/);
      given([]).when(create({ title: 'x', released: 'tomorrow' })).thenThrows('invalid', /data\.released: must be a DateTime/);
      given([]).when(create({ title: 'x', images: 'a1' })).thenThrows('invalid', /data\.images: must be Assets/);
      given([]).when(create({ title: 'x', related: [1, 2] })).thenThrows('invalid', /data\.related: must be References/);
      given([]).when(create({ price: 'x', extra: 1 })).thenThrows('invalid', /data\.extra:.*; data\.title: is required.*; data\.price: must be a Number/);
      for (const data of [undefined, null, 'text', [1], 3]) given([]).when(create(data)).thenThrows('invalid', /^data: must be an object/);
    });

    it('refuses to create a content whose stream exists', () => {
      given([created]).when(createContent({ title: 'x' }, false)).thenThrows('conflict');
    });
  });

  describe('update', () => {
    it('replaces the data, with or without a matching If-Match version', () => {
      given([created]).when(update({ title: 'Desk lamp', price: 20 })).then([updated]);
      given([created]).when(update({ title: 'Desk lamp', price: 20 }, 0)).then([updated]);
      given([created, updated]).when(update({ title: 'Lamp' }, 1)).then([{ type: 'ContentUpdated', data: { data: { title: 'Lamp' } } }]);
    });

    it('answers 409 when If-Match names another version', () => {
      given([created, updated]).when(update({ title: 'Lamp' }, 0)).thenThrows('conflict', /at version 1, but If-Match asks for version 0/);
      given([created]).when(update({ title: 'Lamp' }, 5)).thenThrows('conflict');
    });

    it('writes nothing when the data does not change, whatever the key order', () => {
      given([created, updated]).when(update({ price: 20, title: 'Desk lamp' })).then([]);
    });

    it('validates the new data against the schema as it is now', () => {
      given([created]).when(update({ title: 'x', price: Number.NaN })).thenThrows('invalid', /data\.price: must be a Number/);
      given([created]).when(update({})).thenThrows('invalid', /data\.title: is required/);
    });

    it('refuses to edit Archived content until it is back in Draft', () => {
      given([created, archived]).when(update({ title: 'x' })).thenThrows('conflict', /Archived/);
      given([created, archived, { type: 'ContentStatusChanged', data: { status: 'Draft' } }]).when(update({ title: 'x' })).then([{ type: 'ContentUpdated', data: { data: { title: 'x' } } }]);
    });

    it('treats deleted content, unknown content and content of another schema as absent', () => {
      given([created, deleted]).when(update({ title: 'x' })).thenThrows('not-found', /Content c1 does not exist in schema "products"/);
      given([]).when(update({ title: 'x' })).thenThrows('not-found');
      given([created]).when(update({ title: 'x' }, undefined, otherSchema)).thenThrows('not-found', /schema "posts"/);
    });
  });

  describe('status', () => {
    it('moves between Draft, Published and Archived in any direction', () => {
      const moves: [ContentEvent[], string][] = [
        [[created], 'Published'],
        [[created], 'Archived'],
        [[created, { type: 'ContentStatusChanged', data: { status: 'Published' } }], 'Draft'],
        [[created, { type: 'ContentStatusChanged', data: { status: 'Published' } }], 'Archived'],
        [[created, archived], 'Draft'],
        [[created, archived], 'Published'],
      ];
      for (const [history, status] of moves) {
        given(history).when(setStatus(status)).then([{ type: 'ContentStatusChanged', data: { status } } as ContentEvent]);
      }
    });

    it('writes nothing when the status is already the one asked for', () => {
      given([created]).when(setStatus('Draft')).then([]);
      given([created, archived]).when(setStatus('Archived')).then([]);
    });

    it('refuses an unknown status (400) and a stale If-Match (409)', () => {
      given([created]).when(setStatus('Live')).thenThrows('invalid', /status: "Live" is not a status; use one of Draft, Published, Archived/);
      given([created, updated]).when(setStatus('Published', 0)).thenThrows('conflict');
      given([created, updated]).when(setStatus('Published', 1)).then([{ type: 'ContentStatusChanged', data: { status: 'Published' } }]);
    });

    it('cannot change deleted content', () => {
      given([created, deleted]).when(setStatus('Published')).thenThrows('not-found');
    });
  });

  describe('delete', () => {
    it('deletes live content in any status', () => {
      given([created]).when(remove()).then([deleted]);
      given([created, archived]).when(remove(1)).then([deleted]);
    });

    it('refuses to delete twice, a stale If-Match, or through another schema', () => {
      given([created, deleted]).when(remove()).thenThrows('not-found');
      given([created, updated]).when(remove(0)).thenThrows('conflict');
      given([created]).when(remove(undefined, otherSchema)).thenThrows('not-found');
    });
  });

  it('counts the version from 0 at creation', () => {
    expect(fold(contentDecider, []).version).toBe(-1);
    expect(fold(contentDecider, [created]).version).toBe(0);
    expect(fold(contentDecider, [created, updated, archived, deleted]).version).toBe(3);
  });
});

describe('content data helpers', () => {
  it('accepts ISO-8601 dates and times that exist, and nothing else', () => {
    for (const ok of ['2024-05-01', '2024-05-01T12:00Z', '2024-05-01T12:00:00Z', '2024-05-01T12:00:00.123Z', '2024-02-29T23:59:59+02:00', '2024-05-01T12:00:00']) {
      expect(isIsoDateTime(ok), ok).toBe(true);
    }
    for (const bad of ['2023-02-29', '2024-13-01', '2024-04-31T10:00:00Z', '2024-05-01T24:00:00Z', '2024-05-01 12:00', 'May 1, 2024', '1714564800000', '']) {
      expect(isIsoDateTime(bad), bad).toBe(false);
    }
  });

  it('lets optional fields be null or absent', () => {
    expect(validateData('products', schema.fields, { title: 'x', price: null })).toEqual({ title: 'x', price: null });
  });

  it('indexes strings and numbers, nested ones too, for search', () => {
    expect(searchableText({ title: 'Blue whale', price: 12, ok: true, meta: { tags: ['big', { deep: 'ocean' }] } })).toBe('Blue whale 12 big ocean');
  });

  it('compares data ignoring key order', () => {
    expect(sameData({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 })).toBe(true);
    expect(sameData({ a: 1 }, { a: 1, b: null })).toBe(false);
    expect(sameData({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
  });
});
