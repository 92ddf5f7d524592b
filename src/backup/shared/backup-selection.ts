import { z } from 'zod';
import { entityId, NAME_MAX, NAME_PATTERN } from '../../platform/text/identifier.rules.js';
import { ASSET_CHOICES, MAX_SELECTED_CONTENTS, MAX_SELECTED_SCHEMAS } from '../../archive/archive-selection.js';

// The selection as archives store it, and its working set, are the archive library's.
export { ASSET_CHOICES, type AssetChoice, type BackupSelection, describeSelection, isWholeApp, MAX_SELECTED_CONTENTS, MAX_SELECTED_SCHEMAS, normalizeSelection } from '../../archive/archive-selection.js';

/**
 * What a partial backup holds, as a request gives it: `null` or absent means all of that kind.
 * `contents` narrows the selected schemas' contents to the listed ids.
 */
export const BackupIncludeBody = z
  .strictObject({
    schemas: z
      .array(z.string().max(NAME_MAX).regex(NAME_PATTERN, 'must be schema names (lowercase letters, digits and single dashes)'))
      .min(1, 'must name at least one schema (or be null for all)')
      .max(MAX_SELECTED_SCHEMAS, `may name at most ${MAX_SELECTED_SCHEMAS} schemas`)
      .nullable()
      .optional()
      .describe('Names of the schemas to back up; null or absent: every schema'),
    contents: z
      .array(entityId())
      .min(1, 'must list at least one content id (or be null for all)')
      .max(MAX_SELECTED_CONTENTS, `may list at most ${MAX_SELECTED_CONTENTS} content ids`)
      .nullable()
      .optional()
      .describe('Ids of the contents to back up, within the selected schemas; null or absent: all of their contents'),
    assets: z.enum(ASSET_CHOICES, `must be one of ${ASSET_CHOICES.join(', ')}`).optional().describe('Which assets: all (default), those the selected contents reference, or none'),
  })
  .describe('What a partial backup holds; absent: the whole app');

export type BackupIncludeInput = z.infer<typeof BackupIncludeBody>;
