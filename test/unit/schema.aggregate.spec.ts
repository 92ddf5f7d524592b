import { describe, expect, it } from 'vitest';
import { spec } from '../support/given-when-then.js';
import { type FieldInput, MAX_FIELDS, type SchemaCommand, schemaDecider } from '../../src/schemas/schema.aggregate.js';
import type { CommandData } from '../../src/eventsourcing/decider.js';
import type { SchemaEvent } from '../../src/schemas/schema.events.js';

const { given } = spec(schemaDecider);

const created: SchemaEvent = {
  type: 'SchemaCreated',
  data: { schemaId: 's1', name: 'products', fields: [{ name: 'title', type: 'String', required: true }] },
};
const create = (c: Partial<CommandData<SchemaCommand, 'CreateSchema'>> = {}): SchemaCommand => ({
  type: 'CreateSchema',
  data: { schemaId: 's1', name: 'products', fields: [{ name: 'title', type: 'String', required: true }], nameTaken: false, ...c },
});
const addField = (field: FieldInput): SchemaCommand => ({ type: 'AddSchemaField', data: { field } });
const deleteSchema: SchemaCommand = { type: 'DeleteSchema', data: {} };
const decideOnNothing = (command: SchemaCommand) => schemaDecider.decide(command, schemaDecider.initialState());

describe('schema aggregate', () => {
  describe('create', () => {
    it('creates a schema with its fields, required defaulting to false', () => {
      given([])
        .when(create({ fields: [{ name: 'title', type: 'String', required: true }, { name: 'price', type: 'Number' }] }))
        .then([
          {
            type: 'SchemaCreated',
            data: { schemaId: 's1', name: 'products', fields: [{ name: 'title', type: 'String', required: true }, { name: 'price', type: 'Number', required: false }] },
          },
        ]);
    });

    it('accepts every field type and no fields at all', () => {
      const types = ['String', 'Number', 'Boolean', 'DateTime', 'Json', 'Assets', 'References'];
      const events = decideOnNothing(create({ fields: types.map((type, i) => ({ name: `f${i}`, type })) }));
      expect(events[0]?.type === 'SchemaCreated' && events[0].data.fields.map((f) => f.type)).toEqual(types);
      given([]).when(create({ fields: [] })).then([{ type: 'SchemaCreated', data: { schemaId: 's1', name: 'products', fields: [] } }]);
    });

    it('refuses a name that is taken in the app', () => {
      given([]).when(create({ nameTaken: true })).thenThrows('conflict', /"products" exists already/);
    });

    it('refuses names that break the app-name rule', () => {
      for (const name of ['Products', 'a--b', '-a', 'a-', 'a'.repeat(41), '', 'with space', 'ü']) {
        given([]).when(create({ name })).thenThrows('invalid', /^name:/);
      }
      given([]).when(create({ name: 'a'.repeat(40) })).then(decideOnNothing(create({ name: 'a'.repeat(40) })));
    });

    it('refuses an unknown field type, naming the field and the types there are', () => {
      given([])
        .when(create({ fields: [{ name: 'title', type: 'String' }, { name: 'price', type: 'Money' }] }))
        .thenThrows('invalid', /fields\[1\]\.type: field "price" has the unknown type "Money"; use one of String, Number/);
    });

    it('refuses bad field names, reporting every problem at once', () => {
      given([])
        .when(create({ fields: [{ name: '1st', type: 'String' }, { name: 'has-dash', type: 'Nope' }] }))
        .thenThrows('invalid', /fields\[0\]\.name: "1st".*; fields\[1\]\.name: "has-dash".*; fields\[1\]\.type:/);
      given([]).when(create({ fields: [{ name: 'x'.repeat(41), type: 'String' }] })).thenThrows('invalid', /at most 40/);
    });

    it('refuses a field name used twice', () => {
      given([])
        .when(create({ fields: [{ name: 'title', type: 'String' }, { name: 'title', type: 'Number' }] }))
        .thenThrows('conflict', /"title" is used twice/);
    });

    it('refuses more fields than the limit', () => {
      const fields = Array.from({ length: MAX_FIELDS + 1 }, (_, i) => ({ name: `f${i}`, type: 'String' }));
      given([]).when(create({ fields })).thenThrows('invalid', /at most 100 fields/);
    });

    it('refuses to create a schema whose stream exists', () => {
      given([created]).when(create()).thenThrows('conflict');
    });
  });

  describe('add field', () => {
    it('adds a field', () => {
      given([created])
        .when(addField({ name: 'price', type: 'Number', required: true }))
        .then([{ type: 'SchemaFieldAdded', data: { field: { name: 'price', type: 'Number', required: true } } }]);
    });

    it('refuses a duplicate field name (409), a bad name or type (400)', () => {
      given([created]).when(addField({ name: 'title', type: 'Number' })).thenThrows('conflict', /has a field named "title" already/);
      given([created]).when(addField({ name: 'bad name', type: 'String' })).thenThrows('invalid', /^name: "bad name"/);
      given([created]).when(addField({ name: 'tags', type: 'Tags' })).thenThrows('invalid', /^type: field "tags" has the unknown type "Tags"/);
    });

    it('sees fields added before', () => {
      const added: SchemaEvent = { type: 'SchemaFieldAdded', data: { field: { name: 'price', type: 'Number', required: false } } };
      given([created, added]).when(addField({ name: 'price', type: 'String' })).thenThrows('conflict');
    });

    it('stops at the field limit', () => {
      const full: SchemaEvent = {
        type: 'SchemaCreated',
        data: { schemaId: 's1', name: 'big', fields: Array.from({ length: MAX_FIELDS }, (_, i) => ({ name: `f${i}`, type: 'String' as const, required: false })) },
      };
      given([full]).when(addField({ name: 'more', type: 'String' })).thenThrows('conflict', /limit of 100 fields/);
    });

    it('cannot change a schema that does not exist or was deleted', () => {
      given([]).when(addField({ name: 'price', type: 'Number' })).thenThrows('not-found');
      given([created, { type: 'SchemaDeleted', data: { name: 'products' } }]).when(addField({ name: 'price', type: 'Number' })).thenThrows('not-found');
    });
  });

  describe('delete', () => {
    it('deletes a live schema, recording its name', () => {
      given([created]).when(deleteSchema).then([{ type: 'SchemaDeleted', data: { name: 'products' } }]);
    });

    it('cannot delete twice or delete what never existed', () => {
      given([created, { type: 'SchemaDeleted', data: { name: 'products' } }]).when(deleteSchema).thenThrows('not-found');
      given([]).when(deleteSchema).thenThrows('not-found');
    });
  });
});
