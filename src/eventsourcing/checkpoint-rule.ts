/**
 * When the live follower saves its checkpoint: with a commit once `everyEvents` events were applied
 * or `everyMs` passed since the last save, whichever comes first, and otherwise at the latest
 * `everyMs` after the commit that moved it (the caller schedules that). Positions say nothing about
 * how much was applied (EventStoreDB's are byte offsets), so the rule counts events and time.
 *
 * Saving less often is safe because projections set state from events: after a crash the events
 * since the saved checkpoint are applied again and write the same documents.
 */
export class CheckpointRule {
  private eventsSince = 0;
  private savedAt: number;

  constructor(
    readonly everyEvents: number,
    readonly everyMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.savedAt = now();
  }

  /** Counts what a commit applied and says whether the checkpoint goes with it. */
  due(applied: number): boolean {
    this.eventsSince += applied;
    return this.eventsSince >= this.everyEvents || this.now() - this.savedAt >= this.everyMs;
  }

  /** Call once the checkpoint is saved. */
  saved(): void {
    this.eventsSince = 0;
    this.savedAt = this.now();
  }
}
