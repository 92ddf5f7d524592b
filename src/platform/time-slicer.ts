import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Gives the event loop a turn whenever a loop has held the main thread for `budgetMs`: reading
 * from SQLite is synchronous, and a loop over a long history would otherwise keep every other
 * request waiting. Call `tick()` once per item.
 */
export class TimeSlicer {
  private started = performance.now();

  constructor(private readonly budgetMs = 6) {}

  async tick(): Promise<void> {
    if (performance.now() - this.started < this.budgetMs) return;
    await nextTurn();
    this.started = performance.now();
  }
}
