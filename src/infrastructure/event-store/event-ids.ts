import { createHash } from 'node:crypto';

/** AppVault's namespace for name-based event ids (a fixed random UUID). */
const NAMESPACE = Buffer.from('5b0c6c1e9a2f4e7d8b3a61f0c2d4e8a7', 'hex');

/**
 * A name-based UUID (version 5: SHA-1 of a namespace and the name) for an event a writer may have
 * to send again: the same parts always give the same id, so a retried append is recognised by the
 * store instead of being stored twice (NewEvent.id).
 */
export function nameBasedEventId(...parts: readonly (string | number)[]): string {
  const hash = createHash('sha1').update(NAMESPACE).update(parts.join('\u0000')).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
