#!/usr/bin/env node
/**
 * `npm run test:engines`: every contract suite (event store, read store, name index, blob store)
 * against EventStoreDB and MongoDB, the same suites the SQLite adapters pass in every `npm test`. Uses EVENTSTORE_URL and MONGO_URL when they are set; otherwise starts both servers with
 * Docker (docker-compose.engines.yml, on loopback only) when a Docker engine answers, and stops
 * them afterwards. Without either it prints one SKIP line and exits 0.
 */
import { spawnSync } from 'node:child_process';

const run = (command, args, env = process.env) => spawnSync(command, args, { stdio: 'inherit', env });
const quiet = (command, args) => spawnSync(command, args, { stdio: 'ignore' });

let env = { ...process.env };
let started = false;
if (!env.EVENTSTORE_URL || !env.MONGO_URL) {
  if (quiet('docker', ['info']).status !== 0) {
    console.log('SKIP engine suites: EVENTSTORE_URL and MONGO_URL are not set and no Docker engine answers (set the URLs to run against your servers)');
    process.exit(0);
  }
  const up = run('docker', ['compose', '-f', 'docker-compose.engines.yml', 'up', '-d', '--wait']);
  if (up.status !== 0) process.exit(up.status ?? 1);
  started = true;
  env = { ...env, EVENTSTORE_URL: 'esdb://127.0.0.1:22113?tls=false', MONGO_URL: 'mongodb://127.0.0.1:27018/?replicaSet=rs0&directConnection=true' };
}
let status = 1;
try {
  status = run('npx', ['vitest', 'run', 'test/contract'], env).status ?? 1;
} finally {
  if (started) run('docker', ['compose', '-f', 'docker-compose.engines.yml', 'down', '-v']);
}
process.exit(status);
