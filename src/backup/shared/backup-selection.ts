// What a request may select is part of the HTTP contract; the selection as archives store it,
// and its working set, are the archive library's.
export { ASSET_CHOICES, type AssetChoice } from '../../contract/api-values.js';
export { BackupIncludeBody, type BackupIncludeInput, MAX_SELECTED_CONTENTS, MAX_SELECTED_SCHEMAS } from '../../contract/backups.schemas.js';
export { type BackupSelection, describeSelection, isWholeApp, normalizeSelection } from '../../archive/archive-selection.js';
