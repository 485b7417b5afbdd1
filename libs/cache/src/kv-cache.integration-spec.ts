import { randomBytes } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import Redis, { type Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil, readStack, redisLogin } from '@keyflow/testing';
import { KvCache, type CachedEntry } from './kv-cache.service';
import { createRedisCluster } from './redis-cluster.util';

const present = (version: number, valueJson: string, updatedAt = `t${version}`) =>
  ({ state: 'present', version, valueJson, updatedAt }) as const;

describe(KvCache.name, () => {
  let redis: Cluster;
  let cache: KvCache;
  const prefix = `it:${randomBytes(4).toString('hex')}:`;
  const keys = ['a', 'race', 'gone', 'nothing', 'spread-0', 'spread-1', 'lagging', 'expired', 'acked', 'same', 'ttl'];

  beforeAll(async () => {
    redis = createRedisCluster({ nodes: readStack().redis, ...redisLogin('admin') });
    cache = new KvCache(redis, { negativeTtlMs: 300, tombstoneTtlMs: 300, valueTtlMs: 300 }, prefix);
    await redis.ping();
  });
  afterAll(async () => {
    await Promise.all(keys.flatMap((k) => [redis.del(cache.cacheKey(k)), redis.del(cache.floorKey(k))]));
    redis.disconnect();
  });

  const commit = (key: string, entry: Exclude<CachedEntry, { state: 'missing' }>) => cache.commit([{ key, entry }]);

  describe('fill', () => {
    it('should store a value and read it back', async () => {
      expect(await cache.fill('a', present(1, '{"v":1}', 't1'))).toBe('filled');
      expect(await cache.get('a')).toEqual(present(1, '{"v":1}', 't1'));
    });

    it("should keep a key's expiresAt through fills and commits, and clear it with a version written without one", async () => {
      const expiresAt = '2026-12-01T10:00:02.000Z';
      expect(await cache.fill('ttl', { ...present(1, '1'), expiresAt })).toBe('filled');
      expect(await cache.get('ttl')).toEqual({ ...present(1, '1'), expiresAt });
      await commit('ttl', { ...present(2, '2'), expiresAt });
      expect(await cache.get('ttl')).toEqual({ ...present(2, '2'), expiresAt });
      await commit('ttl', present(3, '3'));
      expect(await cache.get('ttl')).toEqual(present(3, '3'));
      await commit('ttl', { ...present(4, '4'), expiresAt });
      await commit('ttl', { state: 'deleted', version: 5, updatedAt: 't5' });
      expect(await cache.get('ttl')).toEqual({ state: 'deleted', version: 5, updatedAt: 't5' });
    });

    it('should never go backwards: a slow fill of an old version loses to a fast commit', async () => {
      // The read-through fill read version 1 from a replica; meanwhile the worker applied version 2.
      const update = commit('race', present(2, '"new"'));
      const slowFill = new Promise((r) => setTimeout(r, 20)).then(() => cache.fill('race', present(1, '"old"')));
      expect(await Promise.all([update, slowFill])).toEqual([{ outOfMemory: [] }, 'below-floor']);
      expect(await cache.get('race')).toMatchObject({ version: 2, valueJson: '"new"' });
      expect(await cache.fill('race', present(2, '"same"'))).toBe('kept');
    });

    it('should cache a missing key negatively, then let any real version replace it', async () => {
      expect(await cache.fill('nothing', { state: 'missing', version: 0 })).toBe('filled');
      expect(await cache.get('nothing')).toEqual({ state: 'missing', version: 0 });
      expect(await cache.fill('nothing', present(1, '0'))).toBe('filled');
      expect(await cache.get('nothing')).toMatchObject({ state: 'present', version: 1 });
    });

    it('should not bring a deleted key back from a lagging replica once its tombstone expired', async () => {
      await commit('lagging', present(3, '1'));
      await commit('lagging', { state: 'deleted', version: 4, updatedAt: 't4' });
      expect(await cache.fill('lagging', present(3, '1'))).toBe('below-floor');
      expect(await cache.get('lagging')).toEqual({ state: 'deleted', version: 4, updatedAt: 't4' });
      await pollUntil(
        () => cache.get('lagging'),
        (e) => e === undefined,
        { what: 'the tombstone to expire', timeoutMs: 5_000 },
      );

      // The replica has not replayed the delete: it still answers version 3, or that the key does not exist.
      expect(await cache.fill('lagging', present(3, '1'))).toBe('below-floor');
      expect(await cache.fill('lagging', { state: 'missing', version: 0 })).toBe('below-floor');
      expect(await cache.get('lagging')).toBeUndefined();
      expect(await cache.fill('lagging', { state: 'deleted', version: 4, updatedAt: 't4' })).toBe('filled');
    });

    it('should not cache an older version once the committed value expired', async () => {
      await commit('expired', present(7, '"seven"'));
      await pollUntil(
        () => cache.get('expired'),
        (e) => e === undefined,
        { what: 'the value to expire', timeoutMs: 5_000 },
      );
      expect(await cache.fill('expired', present(6, '"six"'))).toBe('below-floor');
      expect(await cache.fill('expired', present(7, '"seven"'))).toBe('filled');
    });
  });

  describe('commit', () => {
    it('should keep a tombstone for a short time only', async () => {
      await commit('gone', present(3, '1'));
      expect(await commit('gone', { state: 'deleted', version: 4, updatedAt: 't4' })).toEqual({ outOfMemory: [] });
      expect(await cache.get('gone')).toEqual({ state: 'deleted', version: 4, updatedAt: 't4' });
      await pollUntil(
        () => cache.get('gone'),
        (e) => e === undefined,
        { what: 'the tombstone to expire', timeoutMs: 5_000 },
      );
    });

    it('should have the update on the master’s replica when it resolves', async () => {
      const slots = await redis.cluster('SLOTS');
      const slot = calculateSlot(cache.cacheKey('acked'));
      const [, , , replica] = slots.find(([start, end]) => slot >= start && slot <= end) ?? [];
      expect(replica).toBeDefined();
      const direct = new Redis({ host: replica?.[0], port: replica?.[1], lazyConnect: true, ...redisLogin('admin') });
      try {
        await direct.connect();
        await direct.readonly();
        for (let version = 1; version <= 20; version++) {
          await commit('acked', present(version, String(version)));
          // Read on the replica right away: WAIT made the master hold the commit until the replica had it.
          expect(await direct.hget(cache.cacheKey('acked'), 'v')).toBe(String(version));
        }
      } finally {
        direct.disconnect();
      }
    });

    it('should be idempotent and never go backwards', async () => {
      await commit('same', present(2, '"two"'));
      await commit('same', present(2, '"two"'));
      await commit('same', present(1, '"one"'));
      expect(await cache.get('same')).toEqual(present(2, '"two"'));
    });

    it('should work for keys on different cluster nodes in one call', async () => {
      const spread = ['spread-0', 'spread-1'];
      const slots = await Promise.all(spread.map((k) => redis.cluster('KEYSLOT', cache.cacheKey(k))));
      expect(new Set(slots).size).toBe(2);
      await cache.commit(spread.map((key) => ({ key, entry: present(1, '1') })));
      for (const k of spread) expect(await cache.get(k)).toMatchObject({ version: 1 });
    });
  });
});
