import { assetEntryName, isCompressedType } from '../archive/archive-format.js';
import type { ArchiveParticipant, RestoreContext, RestoreParticipant, RestoreSession } from '../archive/archive-participant.port.js';
import { InvalidArchiveError } from '../archive/archive-reader.js';
import { streams } from '../infrastructure/event-store/event-store.port.js';
import { assetFileKey, assetStream, fileVersionOf } from './asset.aggregate.js';
import type { AssetFilesService } from './asset-files.service.js';

/**
 * On restore (and in its rehearsals): every file version the archive holds goes back under the new
 * app before the event that names it is appended, checked against the SHA-256 the event records.
 */
export const assetsRestore: RestoreParticipant = {
  name: 'assets',
  restore: restoreFiles,
};

/**
 * Assets own their bytes: a backup adds every file version the events introduce (stored as they
 * are when already compressed), a restore puts them back (assetsRestore), and a failed restore
 * removes them again. Partial backups take all assets, none, or those the kept contents reference.
 */
export function assetsParticipant(files: Pick<AssetFilesService, 'size' | 'open' | 'deleteAppFiles'>): ArchiveParticipant {
  return {
    ...assetsRestore,
    backup: (context) => ({
      select: (event, selection) => {
        if (!assetStream.holds(event) || event.type !== 'AssetCreated') return;
        if (selection.selection.assets === 'all') selection.keep(event.stream);
        else if (selection.selection.assets === 'referenced') selection.keepIfReferenced(event.stream, 'asset', streams.childId('asset', event.stream)!);
      },
      async written(events) {
        for (const event of events) {
          const file = assetStream.holds(event) ? fileVersionOf(event, streams.childId('asset', event.stream)!) : undefined;
          if (!file) continue;
          const name = assetEntryName(file.assetId, file.fileVersion);
          // Looked up now, opened when the writer gets to it: a file that is gone is recorded as missing.
          const size = await files.size(context.appId, file.assetId, file.fileVersion);
          if (size === undefined) {
            context.missing(name, 'not found in the blob store');
            continue;
          }
          await context.addEntry(name, () => files.open(context.appId, file.assetId, file.fileVersion), { compress: !isCompressedType(file.mimeType), size });
          context.counts.assets += 1;
        }
      },
    }),
    async cleanup(context) {
      await files.deleteAppFiles(context.targetAppId);
      context.log(`Removed the asset files of app ${context.targetAppId}`);
    },
  };
}

function restoreFiles(context: RestoreContext): RestoreSession {
  const restore = async (name: string, file: NonNullable<ReturnType<typeof fileVersionOf>>) => {
    if (context.counts.assets === 0) await context.step('assets');
    context.counts.assets += 1;
    // Files are written a few at a time while later events are read; each is in place before its event is appended.
    await context.defer(async () => {
      // The sink hashes what it writes; the event says what the hash must be.
      const stored = await context.sink.putFile(assetFileKey(context.targetAppId, file.assetId, file.fileVersion), await context.openEntry(name), file.sha256);
      if (stored.sha256 !== file.sha256) throw new InvalidArchiveError(`${name} does not match the SHA-256 its event records; the archive is inconsistent`);
    });
  };
  return {
    mapEvent: (event) => {
      const file = assetStream.holds(event) ? fileVersionOf(event, streams.childId('asset', event.stream)!) : undefined;
      if (!file) return event;
      const name = assetEntryName(file.assetId, file.fileVersion);
      // Listed in the manifest's `missing` (the restore checked that): the version stays in the history without bytes.
      if (!context.hasEntry(name)) return event;
      return restore(name, file).then(() => event);
    },
  };
}
