import { randomBytes, randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig, ConfigError } from '../../config/app-config.js';
import { READ_STORE, type ReadStore } from '../../infrastructure/read-store/read-store.port.js';
import { AgeKeyError, generateKeyPair, parseIdentities, recipientOf } from '../../archive/age-keys.js';

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

/** An identity file is a few lines; anything larger is not one. */
const MAX_IDENTITY_FILE_BYTES = 16 * 1024;

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
export class InstallationService implements OnModuleInit {
  private readonly logger = new Logger('Installation');
  private installation?: InstallationDoc;
  private secret?: string;
  private ageKey?: AgeIdentityDoc;

  constructor(
    @Inject(READ_STORE) private readonly store: ReadStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** An AGE_IDENTITY_FILE is read at start-up: a wrong one stops the process, not a restore hours later. */
  async onModuleInit(): Promise<void> {
    if (this.config.ageIdentityFile) this.ageKey = await this.identityFromFile(this.config.ageIdentityFile);
  }

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
    if (this.config.ageIdentityFile) return (this.ageKey = await this.identityFromFile(this.config.ageIdentityFile));
    const made = await generateKeyPair();
    this.ageKey = await this.store.collection<AgeIdentityDoc>('installation').insertIfMissing({ id: 'age-identity', ...made, created: new Date().toISOString() });
    return this.ageKey;
  }

  /**
   * The key pair from AGE_IDENTITY_FILE: exactly one X25519 identity (the kind a recipient names).
   * Errors name the file and what is wrong, never its text.
   */
  private async identityFromFile(file: string): Promise<AgeIdentityDoc> {
    const problem = (what: string) => new ConfigError([`AGE_IDENTITY_FILE (${file}) ${what}`]);
    let text: string;
    try {
      const info = await stat(file);
      if (!info.isFile()) throw problem('is not a file');
      if (info.size > MAX_IDENTITY_FILE_BYTES) throw problem(`is ${info.size} bytes; an identity file (as age-keygen writes it) is a few lines`);
      // Kubernetes mounts secrets 0644 by default: said, not refused, so a working setup keeps working.
      if ((info.mode & 0o077) !== 0) this.logger.warn(`AGE_IDENTITY_FILE (${file}) can be read by other users of this machine (mode ${(info.mode & 0o777).toString(8)}); chmod 600 it`);
      text = await readFile(file, 'utf8');
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw problem(`cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    let identities: string[];
    try {
      identities = await parseIdentities(text, 'the file');
    } catch (error) {
      if (error instanceof AgeKeyError) throw problem(`is not usable: ${error.message}`);
      throw error;
    }
    if (identities.length !== 1) throw problem(`holds ${identities.length} identities; give the one this installation is known by`);
    const identity = identities[0]!;
    if (identity.startsWith('AGE-SECRET-KEY-PQ-')) throw problem('holds a post-quantum identity; the installation’s recipient is an X25519 one (age-keygen without -pq)');
    return { id: 'age-identity', identity, recipient: await recipientOf(identity), created: new Date().toISOString() };
  }

  private async doc(): Promise<InstallationDoc> {
    this.installation ??= await this.store
      .collection<InstallationDoc>('installation')
      .insertIfMissing({ id: 'installation', installationId: randomUUID(), created: new Date().toISOString() });
    return this.installation;
  }
}
