import { Injectable } from '@nestjs/common';
import { assetEntryName, isCompressedType } from '../archive/archive-format.js';
import { type ArchivedEvent, type BackupContext, type BackupHandler, type CleanupContext, mappedUser, type RestoreContext } from '../backup/backup-handler.port.js';
import type { StreamSelection } from '../backup/shared/backup-selection.js';
import { streams } from '../infrastructure/event-store/event-store.port.js';
import { AssetFilesService } from './asset-files.service.js';
import type { AssetEvent } from './asset.events.js';

/** A file version an event introduces, if it does. */
function fileVersionOf(archived: ArchivedEvent): { assetId: string; fileVersion: number; sha256: string; mimeType: string } | undefined {
  const event = archived as unknown as AssetEvent;
  const assetId = streams.childId('asset', archived.stream);
  if (!assetId || (event.type !== 'AssetCreated' && event.type !== 'AssetFileReplaced')) return undefined;
  return { assetId, fileVersion: event.data.fileVersion, sha256: event.data.sha256, mimeType: event.data.mimeType };
}

/**
 * Assets own their bytes: a backup adds every file version the events introduce (stored as they
 * are when already compressed), a restore puts them back under the new app before the event that
 * names them is appended, and a failed restore removes them again.
 */
@Injectable()
export class AssetsBackupHandler implements BackupHandler {
  readonly name = 'assets';

  constructor(private readonly files: AssetFilesService) {}

  async backupEvents(events: readonly ArchivedEvent[], context: BackupContext): Promise<void> {
    for (const archived of events) {
      const reverted = archived as unknown as AssetEvent;
      // A rollback's event names who made each file version: users.json must list them.
      if (reverted.type === 'AssetReverted') for (const version of [reverted.data, ...reverted.data.versions]) context.mentionUser(version.createdBy);
      const file = fileVersionOf(archived);
      if (!file) continue;
      const name = assetEntryName(file.assetId, file.fileVersion);
      // Looked up now, opened when the writer gets to it: a file that is gone is recorded as missing.
      const size = await this.files.size(context.appId, file.assetId, file.fileVersion);
      if (size === undefined) {
        context.missing(name, 'not found in the blob store');
        continue;
      }
      await context.addEntry(name, () => this.files.open(context.appId, file.assetId, file.fileVersion), { compress: !isCompressedType(file.mimeType), size });
      context.counts.assets += 1;
    }
  }

  /** Partial backups: every asset, none, or (decided once the contents are known) those they reference. */
  selectEvent(archived: ArchivedEvent, selection: StreamSelection): void {
    if (archived.type !== 'AssetCreated') return;
    const choice = selection.selection.assets;
    if (choice === 'all') selection.keep(archived.stream);
    else if (choice === 'referenced') selection.state<string[]>(this.name, () => []).push(archived.stream);
  }

  completeSelection(selection: StreamSelection): void {
    if (selection.selection.assets !== 'referenced') return;
    for (const stream of selection.state<string[]>(this.name, () => [])) {
      if (selection.isReferenced('asset', streams.childId('asset', stream)!)) selection.keep(stream);
    }
  }

  entriesFor(event: ArchivedEvent): readonly string[] {
    const file = fileVersionOf(event);
    return file ? [assetEntryName(file.assetId, file.fileVersion)] : [];
  }

  async restoreEvent(archived: ArchivedEvent, context: RestoreContext): Promise<ArchivedEvent> {
    const reverted = archived as unknown as AssetEvent;
    if (reverted.type === 'AssetReverted') {
      const map = <V extends { createdBy: string }>(version: V): V => ({ ...version, createdBy: mappedUser(version.createdBy, archived, context) });
      return { ...archived, data: { ...map(reverted.data), versions: reverted.data.versions.map(map) } };
    }
    const event = archived;
    const file = fileVersionOf(event);
    if (!file) return event;
    const name = assetEntryName(file.assetId, file.fileVersion);
    // Listed in the manifest's `missing` (the restore checked that): the version stays in the history without bytes.
    if (!context.hasEntry(name)) return event;
    if (context.counts.assets === 0) await context.step('assets');
    context.counts.assets += 1;
    // Files are written a few at a time while later events are read; each is in place before its event is appended.
    await context.defer(async () => {
      // The blob store hashes what it writes; the event says what the hash must be.
      const stored = await this.files.store(context.targetAppId, file.assetId, file.fileVersion, await context.openEntry(name));
      if (stored.sha256 !== file.sha256) {
        throw new Error(`${name} does not match the SHA-256 its event records; the archive is inconsistent`);
      }
    });
    return event;
  }

  async cleanupRestore(context: CleanupContext): Promise<void> {
    await this.files.deleteAppFiles(context.targetAppId);
    context.log(`Removed the asset files of app ${context.targetAppId}`);
  }
}
