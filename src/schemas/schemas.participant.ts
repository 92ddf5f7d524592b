import type { ArchiveParticipant } from '../archive/archive-participant.port.js';
import { schemaStream } from './schema.aggregate.js';
import type { SchemasProjection } from './schemas.projection.js';

/**
 * Schemas in partial backups: a schema is selected by its name, and every schema stream that was
 * ever created under a listed name is kept (a schema deleted and made again under the same name
 * is the history of that name).
 */
export function schemasParticipant(projection: Pick<SchemasProjection, 'findByName'>): ArchiveParticipant {
  return {
    name: 'schemas',
    async checkSelection(appId, selection) {
      const problems: string[] = [];
      for (const name of selection.schemas ?? []) {
        if (!(await projection.findByName(appId, name))) problems.push(`include.schemas: the app has no schema named "${name}"`);
      }
      return problems;
    },
    backup: ({ selection }) => {
      const names = selection?.schemas ? new Set(selection.schemas) : null;
      return {
        select: (event, kept) => {
          if (schemaStream.holds(event) && event.type === 'SchemaCreated' && (names === null || names.has(event.data.name))) kept.keep(event.stream);
        },
      };
    },
  };
}
