import { randomBytes, randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { READ_STORE, type ReadStore } from '../infrastructure/read-store/read-store.port.js';

interface InstallationDoc {
  id: 'installation';
  installationId: string;
  created: string;
  /** Signs download links when LINK_SECRET is not set. Never served, logged or archived. */
  linkSecret?: string;
}

/**
 * This installation's identity: a stable id, written into every manifest so an archive says where
 * it came from, and the secret its download links are signed with.
 */
@Injectable()
export class InstallationService {
  private cached?: InstallationDoc;

  constructor(
    @Inject(READ_STORE) private readonly store: ReadStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async id(): Promise<string> {
    return (await this.doc()).installationId;
  }

  async linkSecret(): Promise<string> {
    if (this.config.linkSecret) return this.config.linkSecret;
    const doc = await this.doc();
    if (doc.linkSecret) return doc.linkSecret;
    const secret = randomBytes(32).toString('base64url');
    this.cached = { ...doc, linkSecret: secret };
    await this.store.collection<InstallationDoc>('installation').put(this.cached);
    return secret;
  }

  private async doc(): Promise<InstallationDoc> {
    if (this.cached) return this.cached;
    const collection = this.store.collection<InstallationDoc>('installation');
    const existing = await collection.get('installation');
    if (existing) return (this.cached = existing);
    const doc: InstallationDoc = { id: 'installation', installationId: randomUUID(), created: new Date().toISOString() };
    await collection.put(doc);
    return (this.cached = doc);
  }
}
