import { createHash, randomBytes } from 'node:crypto';

/**
 * API keys are 32 random bytes, so a fast hash is enough to keep them unreadable at rest;
 * a slow password hash would only add latency to every request.
 */
export function generateApiKey(): string {
  return `av_${randomBytes(32).toString('base64url')}`;
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}
