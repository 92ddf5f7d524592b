import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { READ_STORE, type ReadStore } from '../infrastructure/read-store/read-store.port.js';

interface InstallationDoc {
  id: 'installation';
  installationId: string;
  created: string;
}

/** A stable id for this installation, written into every manifest so an archive says where it came from. */
@Injectable()
export class InstallationService {
  private cached?: string;

  constructor(@Inject(READ_STORE) private readonly store: ReadStore) {}

  async id(): Promise<string> {
    if (this.cached) return this.cached;
    const collection = this.store.collection<InstallationDoc>('installation');
    const existing = await collection.get('installation');
    if (existing) return (this.cached = existing.installationId);
    const doc: InstallationDoc = { id: 'installation', installationId: randomUUID(), created: new Date().toISOString() };
    await collection.put(doc);
    return (this.cached = doc.installationId);
  }
}
