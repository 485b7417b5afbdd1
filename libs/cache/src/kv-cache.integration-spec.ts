import { randomBytes } from 'node:crypto';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil, readStack } from '@keyflow/testing';
import { KvCache } from './kv-cache.service';
import { createRedisCluster } from './redis-cluster.util';

describe(KvCache.name, () => {
  let redis: Cluster;
  let cache: KvCache;
  const prefix = `it:${randomBytes(4).toString('hex')}:`;

  beforeAll(async () => {
    redis = createRedisCluster({ nodes: readStack().redis });
    cache = new KvCache(redis, { negativeTtlMs: 300, tombstoneTtlMs: 300 }, prefix);
    await redis.ping();
  });
  afterAll(async () => {
    const keys = ['a', 'race', 'gone', 'nothing', 'spread-0', 'spread-1'].map((k) => cache.cacheKey(k));
    await Promise.all(keys.map((k) => redis.del(k)));
    redis.disconnect();
  });

  describe('setIfNewer', () => {
    it('should store a value and read it back', async () => {
      expect(await cache.setIfNewer('a', { state: 'present', version: 1, valueJson: '{"v":1}', updatedAt: 't1' })).toBe(
        true,
      );
      expect(await cache.get('a')).toEqual({ state: 'present', version: 1, valueJson: '{"v":1}', updatedAt: 't1' });
    });

    it('should never go backwards: a slow fill of an old version loses to a fast update', async () => {
      // The read-through fill read version 1 from a replica; meanwhile the worker applied version 2.
      const update = cache.setIfNewer('race', { state: 'present', version: 2, valueJson: '"new"', updatedAt: 't2' });
      const slowFill = new Promise((r) => setTimeout(r, 20)).then(() =>
        cache.setIfNewer('race', { state: 'present', version: 1, valueJson: '"old"', updatedAt: 't1' }),
      );
      expect(await Promise.all([update, slowFill])).toEqual([true, false]);
      expect(await cache.get('race')).toMatchObject({ version: 2, valueJson: '"new"' });
      expect(
        await cache.setIfNewer('race', { state: 'present', version: 2, valueJson: '"same"', updatedAt: 't' }),
      ).toBe(false);
    });

    it('should keep a tombstone for a short time only', async () => {
      await cache.setIfNewer('gone', { state: 'present', version: 3, valueJson: '1', updatedAt: 't' });
      expect(await cache.setIfNewer('gone', { state: 'deleted', version: 4, updatedAt: 't4' })).toBe(true);
      expect(await cache.setIfNewer('gone', { state: 'present', version: 3, valueJson: '1', updatedAt: 't' })).toBe(
        false,
      );
      expect(await cache.get('gone')).toEqual({ state: 'deleted', version: 4, updatedAt: 't4' });
      await pollUntil(
        () => cache.get('gone'),
        (e) => e === undefined,
        { what: 'the tombstone to expire', timeoutMs: 5_000 },
      );
    });

    it('should cache a missing key negatively, then let any real version replace it', async () => {
      expect(await cache.setIfNewer('nothing', { state: 'missing', version: 0 })).toBe(true);
      expect(await cache.get('nothing')).toEqual({ state: 'missing', version: 0 });
      expect(await cache.setIfNewer('nothing', { state: 'present', version: 1, valueJson: '0', updatedAt: 't' })).toBe(
        true,
      );
      expect(await cache.get('nothing')).toMatchObject({ state: 'present', version: 1 });
    });

    it('should work for keys on different cluster nodes', async () => {
      const slots = await Promise.all(['spread-0', 'spread-1'].map((k) => redis.cluster('KEYSLOT', cache.cacheKey(k))));
      expect(new Set(slots).size).toBe(2);
      for (const k of ['spread-0', 'spread-1']) {
        await cache.setIfNewer(k, { state: 'present', version: 1, valueJson: '1', updatedAt: 't' });
        expect(await cache.get(k)).toMatchObject({ version: 1 });
      }
    });
  });
});
