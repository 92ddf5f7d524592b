import { afterAll, afterEach } from 'vitest';
import { takeContractViolations } from './contract-check.js';

/**
 * Every test file runs this (vitest.config.ts, setupFiles): a test during which a test server
 * answered outside the contract fails, naming the request and what was wrong (contract-check.ts).
 * What is answered after a file's last test fails its afterAll.
 */
function failOnViolations(): void {
  const found = takeContractViolations();
  if (found.length > 0) throw new Error(`Answers that leave the HTTP contract (src/contract):\n${found.map((line) => `  - ${line}`).join('\n')}`);
}

afterEach(failOnViolations);
afterAll(failOnViolations);
