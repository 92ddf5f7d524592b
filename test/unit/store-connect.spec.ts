import { describe, expect, it } from 'vitest';
import { connectWithRetry, StoreUnreachableError } from '../../src/infrastructure/store-connect.js';

describe('connecting to a store at start-up', () => {
  it('retries with backoff until the store answers', async () => {
    let attempts = 0;
    const store = await connectWithRetry('MONGO_URL', 5000, async () => {
      attempts += 1;
      if (attempts < 3) throw new Error('connect ECONNREFUSED 127.0.0.1:27017');
      return 'connected';
    });
    expect(store).toBe('connected');
    expect(attempts).toBe(3);
  });

  it('gives up after the timeout with a message that names the variable', async () => {
    const attempt = connectWithRetry('EVENTSTORE_URL', 800, async () => {
      throw new Error('14 UNAVAILABLE: No connection established');
    });
    await expect(attempt).rejects.toBeInstanceOf(StoreUnreachableError);
    await expect(attempt).rejects.toThrow(/EVENTSTORE_URL names a server that did not answer within 800 ms \(STORE_CONNECT_TIMEOUT_MS\): 14 UNAVAILABLE/);
  });
});
