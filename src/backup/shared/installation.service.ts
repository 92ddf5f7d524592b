import { randomBytes, randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { READ_STORE, type ReadStore } from '../../infrastructure/read-store/read-store.port.js';
import { generateKeyPair } from '../../archive/age-keys.js';

interface InstallationDoc {
  id: 'installation';
  installationId: string;
  created: string;
  /** Kept here by earlier versions; read, never written any more (see LinkSecretDoc). */
  linkSecret?: string;
}

/** Signs download links when LINK_SECRET is not set. Never served, logged or archived. */
interface LinkSecretDoc {
  id: 'link-secret';
  secret: string;
  created: string;
}

/**
 * This installation's own age key pair: archives encrypted to its recipient (a migration from
 * another installation, a copy of its own) are opened here without a key in the request. The
 * identity is never served, logged or archived.
 */
interface AgeIdentityDoc {
  id: 'age-identity';
  identity: string;
  recipient: string;
  created: string;
}

/**
 * This installation's identity: a stable id, written into every manifest so an archive says where
 * it came from, the secret its download links are signed with, and its age key pair.
 *
 * Both are created on first use by whichever process needs them first. Several processes on the
 * same stores (replicas) may start together: each document is inserted only if it is missing, and
 * every process uses what the store then holds, so all agree on one id and one secret.
 */
@Injectable()
export class InstallationService {
  private installation?: InstallationDoc;
  private secret?: string;
  private ageKey?: AgeIdentityDoc;

  constructor(
    @Inject(READ_STORE) private readonly store: ReadStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async id(): Promise<string> {
    return (await this.doc()).installationId;
  }

  async linkSecret(): Promise<string> {
    if (this.config.linkSecret) return this.config.linkSecret;
    if (this.secret) return this.secret;
    const legacy = (await this.doc()).linkSecret;
    if (legacy) return (this.secret = legacy);
    const stored = await this.store
      .collection<LinkSecretDoc>('installation')
      .insertIfMissing({ id: 'link-secret', secret: randomBytes(32).toString('base64url'), created: new Date().toISOString() });
    return (this.secret = stored.secret);
  }

  /** The public key of this installation's age key pair (made at first use, like the link secret). */
  async recipient(): Promise<string> {
    return (await this.ageKeyPair()).recipient;
  }

  /** The private key of this installation's age key pair; it opens archives, and never leaves the process. */
  async identity(): Promise<string> {
    return (await this.ageKeyPair()).identity;
  }

  private async ageKeyPair(): Promise<AgeIdentityDoc> {
    if (this.ageKey) return this.ageKey;
    const made = await generateKeyPair();
    this.ageKey = await this.store.collection<AgeIdentityDoc>('installation').insertIfMissing({ id: 'age-identity', ...made, created: new Date().toISOString() });
    return this.ageKey;
  }

  private async doc(): Promise<InstallationDoc> {
    this.installation ??= await this.store
      .collection<InstallationDoc>('installation')
      .insertIfMissing({ id: 'installation', installationId: randomUUID(), created: new Date().toISOString() });
    return this.installation;
  }
}
