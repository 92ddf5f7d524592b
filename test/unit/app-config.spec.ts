import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/app-config.js';
import { readHeapGrowingPercent } from '../../src/platform/heap/heap-growth.js';

describe('configuration from the environment', () => {
  it('applies defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 8080, adminEmail: 'admin@localhost', maxBackupsPerApp: 10, restoreAllowedHosts: [] });
    expect(config.dataDir.endsWith('/data')).toBe(true);
    expect(config.eventStoreUrl).toBeUndefined();
    expect(config).toMatchObject({ maxScheduledBackupsPerApp: 50, backupScheduleMinIntervalMs: 15 * 60_000 });
  });

  it('names the variable and what it expects for every bad value', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ PORT: 'eighty' }, /PORT must be an integer between 0 and 65535 \(got "eighty"\)/],
      [{ PORT: '70000' }, /PORT must be an integer/],
      [{ MAX_BACKUPS_PER_APP: '0' }, /MAX_BACKUPS_PER_APP must be an integer between 1/],
      [{ EVENTSTORE_URL: 'http://localhost:2113' }, /EVENTSTORE_URL must be a URL starting with esdb:\/\//],
      [{ EVENTSTORE_URL: 'kurrentdb://localhost:2113?tls=false' }, /EVENTSTORE_URL must be a URL starting with esdb:\/\/ or esdb\+discover:\/\//],
      [{ STORE_CONNECT_TIMEOUT_MS: 'soon' }, /STORE_CONNECT_TIMEOUT_MS must be an integer/],
      [{ MONGO_URL: 'localhost:27017' }, /MONGO_URL must be a URL starting with mongodb:\/\//],
      [{ ADMIN_EMAIL: 'root' }, /ADMIN_EMAIL must be an email address/],
      [{ ADMIN_TOKEN: 'short' }, /ADMIN_TOKEN must be at least 16 characters/],
      [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of/],
      [{ MAX_SCHEDULED_BACKUPS_PER_APP: '0' }, /MAX_SCHEDULED_BACKUPS_PER_APP must be an integer between 1 and 10000 \(got "0"\)/],
      [{ BACKUP_SCHEDULE_MIN_INTERVAL_MS: '500' }, /BACKUP_SCHEDULE_MIN_INTERVAL_MS must be an integer between 1000 and 2678400000 \(got "500"\)/],
      [{ BACKUP_SCHEDULE_MIN_INTERVAL_MS: '15m' }, /BACKUP_SCHEDULE_MIN_INTERVAL_MS must be an integer/],
      [{ HEAP_GROWING_PERCENT: '20%' }, /HEAP_GROWING_PERCENT must be an integer between 0 and 300 \(got "20%"\)/],
      [{ HEAP_GROWING_PERCENT: '301' }, /HEAP_GROWING_PERCENT must be an integer between 0 and 300 \(got "301"\)/],
      [{ HEAP_GROWING_PERCENT: '-1' }, /HEAP_GROWING_PERCENT must be an integer between 0 and 300/],
    ];
    for (const [env, message] of cases) {
      expect(() => loadConfig(env), JSON.stringify(env)).toThrow(ConfigError);
      expect(() => loadConfig(env)).toThrow(message);
    }
  });

  it('reports every problem at once', () => {
    try {
      loadConfig({ PORT: 'x', MAX_UPLOAD_BYTES: '-1' });
      expect.fail('should have thrown');
    } catch (error) {
      expect((error as ConfigError).problems).toHaveLength(2);
    }
  });

  it('parses the restore allow list', () => {
    expect(loadConfig({ RESTORE_ALLOWED_HOSTS: ' Example.com, 127.0.0.1 ,' }).restoreAllowedHosts).toEqual(['example.com', '127.0.0.1']);
  });

  it('reads HEAP_GROWING_PERCENT for the server and, alone, for the command line', () => {
    expect(loadConfig({}).heapGrowingPercent).toBe(20);
    expect(loadConfig({ HEAP_GROWING_PERCENT: '0' }).heapGrowingPercent).toBe(0);
    expect(loadConfig({ HEAP_GROWING_PERCENT: ' 35 ' }).heapGrowingPercent).toBe(35);
    expect(readHeapGrowingPercent(undefined)).toBe(20);
    expect(readHeapGrowingPercent('300')).toBe(300);
    expect(readHeapGrowingPercent('fast')).toEqual({ problem: 'HEAP_GROWING_PERCENT must be an integer between 0 and 300 (got "fast")' });
  });
});
