import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Gives the event loop a turn whenever a loop has held the main thread for `budgetMs`: reading
 * from SQLite is synchronous, and a loop over a long history would otherwise keep every other
 * request waiting. Call `tick()` once per item; it returns a promise only when a turn is due, so
 * a hot loop can skip the await otherwise (`const turn = slicer.tick(); if (turn) await turn;`).
 */
export class TimeSlicer {
  private started = performance.now();

  constructor(private readonly budgetMs = 6) {}

  tick(): Promise<void> | undefined {
    if (performance.now() - this.started < this.budgetMs) return undefined;
    return nextTurn().then(() => {
      this.started = performance.now();
    });
  }
}
