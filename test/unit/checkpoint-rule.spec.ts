import { describe, expect, it } from 'vitest';
import { CheckpointRule } from '../../src/eventsourcing/checkpoint-rule.js';

describe('CheckpointRule: when the live follower saves its checkpoint', () => {
  const at = (start: number) => {
    let clock = start;
    return { now: () => clock, advance: (ms: number) => (clock += ms) };
  };

  it('saves once enough events were applied since the last save, however quickly they came', () => {
    const clock = at(0);
    const rule = new CheckpointRule(100, 1000, clock.now);
    expect(rule.due(60)).toBe(false);
    expect(rule.due(39)).toBe(false);
    expect(rule.due(1)).toBe(true);
    rule.saved();
    expect(rule.due(99)).toBe(false);
  });

  it('saves once enough time passed since the last save, however few events there were', () => {
    const clock = at(5_000);
    const rule = new CheckpointRule(100, 1000, clock.now);
    expect(rule.due(1)).toBe(false);
    clock.advance(999);
    expect(rule.due(1)).toBe(false);
    clock.advance(1);
    expect(rule.due(0)).toBe(true);
    rule.saved();
    expect(rule.due(1)).toBe(false);
  });

  it('counts events, not positions: a commit of one event counts one whatever its byte offset', () => {
    const clock = at(0);
    const rule = new CheckpointRule(3, 60_000, clock.now);
    // EventStoreDB positions move by hundreds of bytes per event; the rule never sees them.
    expect([rule.due(1), rule.due(1), rule.due(1)]).toEqual([false, false, true]);
  });
});
