import type { Cluster } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { IdempotencyStore, type IdempotencyRecord } from './idempotency-store.service';

/** `SET key value EX seconds NX GET` over a map, with the TTL kept for the assertions. */
class FakeRedis {
  readonly keys = new Map<string, { value: string; ttlSeconds: number }>();

  set(key: string, value: string, _ex: 'EX', ttlSeconds: number, _nx: 'NX', _get: 'GET'): Promise<string | null> {
    const previous = this.keys.get(key)?.value ?? null;
    if (previous === null) this.keys.set(key, { value, ttlSeconds });
    return Promise.resolve(previous);
  }
}

const record: IdempotencyRecord = {
  fingerprint: 'f',
  operationId: '8b0d6c3e-5f7a-4c1e-9a3b-2d4f6e8a0c1b',
  acceptedAt: '2026-11-23T10:00:00.000Z',
};

describe(IdempotencyStore.name, () => {
  describe('claim', () => {
    it('should keep a client’s key for 24 h and answer a repeat with the first record', async () => {
      const redis = new FakeRedis();
      const store = new IdempotencyStore(redis as unknown as Cluster);
      await expect(store.claim('client-key-1', record)).resolves.toBeUndefined();
      await expect(store.claim('client-key-1', { ...record, operationId: 'other' })).resolves.toEqual(record);
      expect(redis.keys.get('idem:client-key-1')?.ttlSeconds).toBe(86_400);
    });

    it('should keep a key the gateway made up (gw-<request id>) for 10 minutes only', async () => {
      const redis = new FakeRedis();
      const store = new IdempotencyStore(redis as unknown as Cluster);
      await store.claim('gw-0123456789abcdef0123456789abcdef', record);
      expect(redis.keys.get('idem:gw-0123456789abcdef0123456789abcdef')?.ttlSeconds).toBe(600);
    });
  });
});
