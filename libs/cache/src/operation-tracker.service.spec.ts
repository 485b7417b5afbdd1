import type { Cluster } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { OperationTracker, type AcceptedOperation } from './operation-tracker.service';

/** `SET key value EX seconds [NX]` and `GET` over a map, with the TTL kept for the assertions. */
class FakeRedis {
  readonly keys = new Map<string, { value: string; ttlSeconds: number }>();

  set(key: string, value: string, _ex: 'EX', ttlSeconds: number, nx?: 'NX'): Promise<'OK' | null> {
    if (nx && this.keys.has(key)) return Promise.resolve(null);
    this.keys.set(key, { value, ttlSeconds });
    return Promise.resolve('OK');
  }

  get(key: string): Promise<string | null> {
    return Promise.resolve(this.keys.get(key)?.value ?? null);
  }
}

const op: AcceptedOperation = {
  id: '8b0d6c3e-5f7a-4c1e-9a3b-2d4f6e8a0c1b',
  key: 'k',
  type: 'put',
  acceptedAt: '2026-11-23T10:00:00.000Z',
};

function setup() {
  const redis = new FakeRedis();
  const tracker = new OperationTracker(redis as unknown as Cluster);
  return { redis, tracker, ttl: () => redis.keys.get(`op:${op.id}`)?.ttlSeconds };
}

describe(OperationTracker.name, () => {
  describe('markAccepted', () => {
    it('should remember an accepted operation for 24 h while it waits to be applied', async () => {
      const { tracker, ttl } = setup();
      await tracker.markAccepted(op);
      await expect(tracker.findAccepted(op.id)).resolves.toEqual(op);
      expect(ttl()).toBe(86_400);
    });
  });

  describe('markFinished', () => {
    it('should keep a finished operation only briefly: the database answers for it now', async () => {
      const { tracker, ttl } = setup();
      await tracker.markAccepted(op);
      await tracker.markFinished([op]);
      await expect(tracker.findAccepted(op.id)).resolves.toEqual(op);
      expect(ttl()).toBe(60);
    });

    it('should not let a late markAccepted bring back a 24-hour record', async () => {
      const { tracker, ttl } = setup();
      // The worker applied the operation before the API that published it wrote its record.
      await tracker.markFinished([op]);
      await tracker.markAccepted(op);
      expect(ttl()).toBe(60);
      await expect(tracker.findAccepted(op.id)).resolves.toEqual(op);
    });
  });
});
