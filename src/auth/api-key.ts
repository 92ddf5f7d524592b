import { hash, randomBytes } from 'node:crypto';

/**
 * API keys are 32 random bytes, so a fast hash is enough to keep them unreadable at rest;
 * a slow password hash would only add latency to every request.
 */
export function generateApiKey(): string {
  return `av_${randomBytes(32).toString('base64url')}`;
}

/** Every authenticated request hashes its key: the one-shot `hash` skips building a Hash object. */
export function hashApiKey(key: string): string {
  return hash('sha256', key, 'hex');
}
