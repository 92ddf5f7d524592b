import { Injectable } from '@nestjs/common';
import type { CopyManifest } from './copy-layout.js';

type CopyBackupFacts = CopyManifest['backup'];

/** A Completed backup in the installation's own store, as the `local` repository's listing shows it: what a copy manifest says of a backup, and its archive. */
export interface LocalBackup extends CopyBackupFacts {
  key: string;
  sizeBytes: number;
  sha256: string;
  encrypted: boolean;
}

/**
 * The installation's own backups and its id, for the `local` repository's listing and to tell a
 * repository's own copies from another installation's. The backup module provides it at start
 * (LocalBackupsSource.provide); this module never imports the backup module.
 */
export interface LocalBackups {
  installationId(): Promise<string>;
  /** Completed backups, newest first, at most `limit`. */
  completed(limit: number): Promise<{ items: LocalBackup[]; total: number }>;
}

@Injectable()
export class LocalBackupsSource {
  private source?: LocalBackups;

  provide(source: LocalBackups): void {
    this.source = source;
  }

  get(): LocalBackups {
    if (!this.source) throw new Error('No LocalBackups was provided: the backup module registers one at start');
    return this.source;
  }
}
