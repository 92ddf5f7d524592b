/**
 * Rules that no single event stream can enforce (unique app names, schema names and emails; one
 * restore at a time; one backup per app at a time; one upload per asset at a time; one projecting
 * process) are enforced here, in the shared store, so several AppVault processes on the same
 * databases obey them too. Each rule is a claim on a key: `kind` says what the key means, `scope`
 * where it must be unique (an app id, or '' for the installation).
 *
 * A claim is first reserved with an expiry, so one left by a dead process frees itself; the holder
 * renews it while it works. Expiry is judged by the store's clock (the database server's time),
 * never by the clock of the process asking, so processes whose clocks disagree still agree on who
 * holds what. A uniqueness claim is then committed to its owner (the app, schema or
 * user it names) and stays until the owner releases it; a "one at a time" claim (a lease) is
 * released when the work ends.
 */
export type ClaimKind = 'app-name' | 'schema-name' | 'email' | 'job' | 'upload' | 'lease';

export interface Claim {
  kind: ClaimKind;
  scope: string;
  key: string;
}

/** The claims the product makes, in one place so every caller spells them alike. */
export const claims = {
  appName: (name: string): Claim => ({ kind: 'app-name', scope: '', key: name }),
  schemaName: (appId: string, name: string): Claim => ({ kind: 'schema-name', scope: appId, key: name }),
  /** `email` normalised (see platform/email.ts), so look-alike spellings meet on one key. */
  email: (email: string): Claim => ({ kind: 'email', scope: '', key: email }),
  restoreSlot: (): Claim => ({ kind: 'job', scope: 'restore', key: 'installation' }),
  backupSlot: (appId: string): Claim => ({ kind: 'job', scope: 'backup', key: appId }),
  rollbackSlot: (appId: string): Claim => ({ kind: 'job', scope: 'rollback', key: appId }),
  /** One occurrence of an app's backup schedule (`at`, ISO time), held while a process starts it. */
  scheduledBackup: (appId: string, at: string): Claim => ({ kind: 'job', scope: 'scheduled-backup', key: `${appId}@${at}` }),
  assetUpload: (appId: string, assetId: string): Claim => ({ kind: 'upload', scope: appId, key: assetId }),
  projector: (): Claim => ({ kind: 'lease', scope: '', key: 'projector' }),
  /** The process that runs the event store's upkeep (EventStoreDB's per-app index). */
  storeUpkeep: (): Claim => ({ kind: 'lease', scope: '', key: 'store-upkeep' }),
};

export interface NameEntry {
  claim: Claim;
  state: 'reserved' | 'committed';
  /** What a committed claim belongs to (an app, schema or user id). */
  owner?: string;
  /** Who holds a reservation (a process instance, a job id), for messages and recovery. */
  holder?: string;
  /** Epoch milliseconds; only meaningful while reserved. */
  expiresAt?: number;
}

export function describeClaim(claim: Claim): string {
  switch (claim.kind) {
    case 'app-name':
      return `the app name "${claim.key}"`;
    case 'schema-name':
      return `the schema name "${claim.key}"`;
    case 'email':
      return `the email ${claim.key}`;
    case 'job':
      return claim.scope === 'restore' ? 'the restore slot' : `the ${claim.scope} slot of app ${claim.key}`;
    case 'upload':
      return `uploads to asset ${claim.key}`;
    case 'lease':
      return `the ${claim.key} lease`;
  }
}

export class NameUnavailableError extends Error {
  constructor(
    readonly claim: Claim,
    readonly reason: 'taken' | 'reserved',
    readonly holder?: string,
  ) {
    super(unavailableMessage(claim, reason));
    this.name = 'NameUnavailableError';
  }
}

function unavailableMessage(claim: Claim, reason: 'taken' | 'reserved'): string {
  switch (claim.kind) {
    case 'app-name':
      return reason === 'taken'
        ? `The app name "${claim.key}" is already taken`
        : `The app name "${claim.key}" is reserved by a create or restore in progress`;
    case 'schema-name':
      return reason === 'taken'
        ? `A schema named "${claim.key}" exists already in this app`
        : `A schema named "${claim.key}" is being created in this app right now`;
    case 'email':
      return reason === 'taken' ? `A user with email ${claim.key} exists already` : `A user with email ${claim.key} is being created right now`;
    case 'job':
      return claim.scope === 'restore'
        ? 'Another restore is running; wait for it to finish (GET /api/restore)'
        : `A ${claim.scope} of this app is already running; wait for it to finish`;
    case 'upload':
      return 'Another upload to this asset is in progress; try again once it has finished';
    case 'lease':
      return `${describeClaim(claim)} is held by another process`;
  }
}

export class ReservationLostError extends Error {
  constructor(readonly claim: Claim) {
    super(`The reservation of ${describeClaim(claim)} expired or was taken over`);
    this.name = 'ReservationLostError';
  }
}

export interface NameIndex {
  /**
   * Reserves a free claim for `ttlMs`; returns the token that owns the reservation. `holder` is
   * recorded for messages and recovery (which process or job holds it).
   */
  reserve(claim: Claim, ttlMs: number, holder?: string): Promise<string>;
  /** Extends a reservation still owned by `token` (long work calls this periodically). */
  renew(claim: Claim, token: string, ttlMs: number): Promise<void>;
  /**
   * Hands a live reservation to a new owner: it gets a new token (returned) and `holder`, and
   * renewals with the old token fail from then on (ReservationLostError). Of several processes
   * handing over the same reservation, exactly one succeeds. For a job that one process accepts
   * and another runs.
   */
  handOver(claim: Claim, token: string, ttlMs: number, holder?: string): Promise<string>;
  /** Turns the reservation into a claim of `owner` that does not expire. */
  commit(claim: Claim, token: string, owner: string): Promise<void>;
  /** Drops a reservation owned by `token`; a no-op when it is gone already. */
  release(claim: Claim, token: string): Promise<void>;
  /** Frees a committed claim of `owner` (a deleted app, schema or user); a no-op for another owner. */
  releaseOwned(claim: Claim, owner: string): Promise<void>;
  /** The live entry, or undefined when the claim is free (an expired reservation is free). */
  lookup(claim: Claim): Promise<NameEntry | undefined>;
  close?(): Promise<void>;
}

export const NAME_INDEX = Symbol('NAME_INDEX');

/** For the adapters' constructors. */
export interface StoreClockOptions {
  /** Moves the store's clock by this many milliseconds: tests of expiry that do not wait. Unset in production. */
  shiftMs?: () => number;
}
