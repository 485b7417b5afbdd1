import { createHash } from 'node:crypto';

/**
 * The longest time to live a write may ask for: 365 days, in seconds. Longer-lived keys should not expire at all;
 * the bound keeps `acceptedAt + ttl` far inside what a TIMESTAMPTZ and a JavaScript Date hold.
 */
export const MAX_TTL_SECONDS = 365 * 24 * 3_600;

/**
 * Why `ttl` is not a time to live keyflow takes, or undefined when it is: a whole number of seconds from 1 to
 * `MAX_TTL_SECONDS`, sent as a JSON number (`"2"`, `1.5`, `0`, `-1`, `null` are refused, not rounded or coerced).
 */
export function describeBadTtl(ttl: unknown): string | undefined {
  if (typeof ttl === 'number' && Number.isSafeInteger(ttl) && ttl >= 1 && ttl <= MAX_TTL_SECONDS) return undefined;
  return `ttl must be a whole number of seconds from 1 to ${MAX_TTL_SECONDS} (365 days), sent as a JSON number`;
}

/** When a write accepted at `acceptedAt` (ISO) with a time to live of `ttlSeconds` expires, as an ISO timestamp. */
export function expiresAtFor(acceptedAt: string, ttlSeconds: number): string {
  return new Date(Date.parse(acceptedAt) + ttlSeconds * 1_000).toISOString();
}

/**
 * Whether a key that expires at `expiresAt` (ISO; undefined or null: never) has expired at `now` (ms). An expired
 * key reads as absent everywhere (GET answers 404, conditions see it as absent) from that instant on, whether or not
 * the worker's expiry delete has been applied yet.
 */
export function hasExpired(expiresAt: string | null | undefined, now = Date.now()): boolean {
  return expiresAt !== undefined && expiresAt !== null && expiresAt !== '' && Date.parse(expiresAt) <= now;
}

/**
 * The operation id of the expiry delete of `key` at `version`: derived, not random, so every publish of the same
 * expiry (a sweep repeated after a worker restarted, or by the shard's next holder) is the same operation, which the
 * worker applies once (applying is idempotent by operation id). A key's versions never repeat, so neither do these
 * ids. A UUID in form (version 8, "custom"), from SHA-256.
 */
export function expiryOperationId(key: string, version: number): string {
  const hex = createHash('sha256').update(`keyflow-expire\0${key}\0${version}`).digest('hex').slice(0, 32).split('');
  hex[12] = '8';
  hex[16] = ((parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  const h = hex.join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
