import { Injectable } from '@nestjs/common';

/** A kind of background job the server runs (backups, restores), as shutdown needs to see it. */
export interface JobKind {
  readonly name: string;
  /** How many run now. */
  running(): number;
  /** Resolves once none runs. */
  settled(): Promise<void>;
  /** Makes every running job fail at its next step with `reason` (each cleans up as after a failure). */
  abandon(reason: string): void;
}

/** Where job services register, so a shutdown can wait for their jobs or stop them. */
@Injectable()
export class JobRegistry {
  private readonly kinds: JobKind[] = [];

  register(kind: JobKind): void {
    this.kinds.push(kind);
  }

  get all(): readonly JobKind[] {
    return this.kinds;
  }
}
