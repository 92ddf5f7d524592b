/**
 * App names are unique across the installation. Events cannot enforce that on their own, so a
 * small index reserves a name before any event is written (create, restore) and commits it to the
 * app id afterwards. A reservation carries an expiry, so one left by a dead process frees itself.
 */
export interface NameEntry {
  name: string;
  state: 'reserved' | 'committed';
  appId?: string;
  /** Epoch milliseconds; only meaningful while reserved. */
  expiresAt?: number;
}

export class NameUnavailableError extends Error {
  constructor(
    readonly appName: string,
    readonly reason: 'taken' | 'reserved',
  ) {
    super(
      reason === 'taken'
        ? `The app name "${appName}" is already taken`
        : `The app name "${appName}" is reserved by a create or restore in progress`,
    );
    this.name = 'NameUnavailableError';
  }
}

export class ReservationLostError extends Error {
  constructor(readonly appName: string) {
    super(`The reservation of app name "${appName}" expired or was taken over`);
    this.name = 'ReservationLostError';
  }
}

export interface NameIndex {
  /** Reserves a free name for `ttlMs`; returns the token that owns the reservation. */
  reserve(name: string, ttlMs: number): Promise<string>;
  /** Extends a reservation still owned by `token` (long restores call this periodically). */
  renew(name: string, token: string, ttlMs: number): Promise<void>;
  /** Turns the reservation into the name of `appId`. */
  commit(name: string, token: string, appId: string): Promise<void>;
  /** Drops a reservation owned by `token`; a no-op when it is gone already. */
  release(name: string, token: string): Promise<void>;
  /** Frees the name of a deleted app. */
  releaseApp(name: string, appId: string): Promise<void>;
  lookup(name: string): Promise<NameEntry | undefined>;
}

export const NAME_INDEX = Symbol('NAME_INDEX');
