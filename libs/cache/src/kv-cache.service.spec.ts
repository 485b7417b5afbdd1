import calculateSlot from 'cluster-key-slot';
import type { Cluster } from 'ioredis';
import { describe, expect, it, vi } from 'vitest';
import { CacheReplicationError, KvCache } from './kv-cache.service';

/**
 * A two-master Redis Cluster in memory: slots 0–8191 on `a`, the rest on `b`. It runs KvCache's scripts as the
 * Lua does (the integration spec runs the real ones) and models what `commit` depends on: per-master WAIT and
 * ROLE, replicas that acknowledge or lag, a node that is no longer a master, a node out of memory.
 */
class FakeNode {
  readonly entries = new Map<string, { hash?: Record<string, string>; value?: string; ttlMs: number }>();
  readonly waits: Array<[number, number]> = [];
  replicas = 1;
  replicaAcks = true;
  master = true;
  outOfMemory = false;

  constructor(readonly name: string) {}

  ttl(key: string): number | undefined {
    return this.entries.get(key)?.ttlMs;
  }

  expire(key: string): void {
    this.entries.delete(key);
  }

  fill(args: string[]): number {
    const [entryKey = '', floorKey = '', version = '', state = '', json = '', updatedAt = '', ttl = '', x = ''] = args;
    if (Number(version) < Number(this.entries.get(floorKey)?.value ?? 0)) return -1;
    const current = this.entries.get(entryKey)?.hash?.v;
    if (current !== undefined && Number(current) >= Number(version)) return 0;
    if (this.outOfMemory) throw new Error("OOM command not allowed when used memory > 'maxmemory'.");
    this.entries.set(entryKey, { hash: { v: version, s: state, j: json, u: updatedAt, x }, ttlMs: Number(ttl) });
    return 1;
  }

  commit(args: string[]): number {
    const [
      entryKey = '',
      floorKey = '',
      version = '',
      state = '',
      json = '',
      updatedAt = '',
      ttl = '',
      floorTtl = '',
      x = '',
    ] = args;
    if (Number(version) < Number(this.entries.get(floorKey)?.value ?? 0)) return 0;
    if (this.outOfMemory) {
      this.entries.delete(entryKey);
      return -1;
    }
    this.entries.set(floorKey, { value: version, ttlMs: Number(floorTtl) });
    const entry = this.entries.get(entryKey);
    const current = Number(entry?.hash?.v ?? -1);
    if (current > Number(version)) return 0;
    if (entry && current === Number(version)) {
      entry.ttlMs = Number(ttl);
      return 1;
    }
    this.entries.set(entryKey, { hash: { v: version, s: state, j: json, u: updatedAt, x }, ttlMs: Number(ttl) });
    return 1;
  }
}

class FakeCluster {
  readonly a = new FakeNode('127.0.0.1:7001');
  readonly b = new FakeNode('127.0.0.1:7002');
  readonly slots: string[][] = Array.from({ length: 16384 }, (_, slot) => [slot < 8192 ? this.a.name : this.b.name]);
  readonly refreshSlotsCache = vi.fn();

  node(key: string): FakeNode {
    return calculateSlot(key) < 8192 ? this.a : this.b;
  }

  defineCommand(): void {}

  hgetall(key: string): Promise<Record<string, string>> {
    return Promise.resolve({ ...this.node(key).entries.get(key)?.hash });
  }

  kvFill(...args: string[]): Promise<number> {
    try {
      return Promise.resolve(this.node(args[0] ?? '').fill(args));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  pipeline() {
    const queue: Array<{ key?: string; run: (node: FakeNode) => unknown }> = [];
    const pipeline = {
      kvCommit: (...args: string[]) => queue.push({ key: args[0], run: (node) => node.commit(args) }),
      wait: (replicas: number, timeoutMs: number) =>
        queue.push({
          run: (node) => {
            node.waits.push([replicas, timeoutMs]);
            return node.replicaAcks ? Math.min(replicas, node.replicas) : 0;
          },
        }),
      role: () =>
        queue.push({
          run: (node) =>
            node.master
              ? ['master', 100, Array.from({ length: node.replicas }, (_, i) => ['127.0.0.1', String(7100 + i), '90'])]
              : ['slave', '127.0.0.1', 7009, 'connected', 100],
        }),
      exec: () => {
        const nodes = new Set(queue.flatMap(({ key }) => (key === undefined ? [] : [this.node(key)])));
        if (nodes.size !== 1) {
          return Promise.reject(new Error('All keys in the pipeline should belong to the same slots allocation group'));
        }
        const [node] = [...nodes] as [FakeNode];
        return Promise.resolve(queue.map(({ run }) => [null, run(node)]));
      },
    };
    return pipeline;
  }
}

/** Keys whose entries live on master `a` and on master `b`. */
function keysOn(redis: FakeCluster, cache: KvCache): { onA: string; onB: string } {
  const names = Array.from({ length: 100 }, (_, i) => `key-${i}`);
  const onA = names.find((k) => redis.node(cache.cacheKey(k)) === redis.a) ?? '';
  const onB = names.find((k) => redis.node(cache.cacheKey(k)) === redis.b) ?? '';
  return { onA, onB };
}

function setup(options: ConstructorParameters<typeof KvCache>[1] = {}) {
  const redis = new FakeCluster();
  const cache = new KvCache(redis as unknown as Cluster, options);
  return { redis, cache, ...keysOn(redis, cache) };
}

const present = (version: number, valueJson = `"v${version}"`) =>
  ({ state: 'present', version, valueJson, updatedAt: `t${version}` }) as const;
const deleted = (version: number) => ({ state: 'deleted', version, updatedAt: `t${version}` }) as const;

describe(KvCache.name, () => {
  describe('cacheKey', () => {
    it('should give an entry and its floor the same non-empty hash tag, whatever the key', () => {
      const { cache } = setup();
      for (const key of ['a', '}x', '{y}', 'a}b{c}', '@']) {
        expect(calculateSlot(cache.floorKey(key))).toBe(calculateSlot(cache.cacheKey(key)));
      }
      expect(cache.cacheKey('users/42')).toBe('kv:{@users/42}');
      expect(cache.floorKey('users/42')).toBe('kv:floor:{@users/42}');
    });
  });

  describe('fill', () => {
    it('should cache a value read from the database for the short fill TTL, not the committed one', async () => {
      const { redis, cache, onA } = setup({ fillTtlMs: 120_000, valueTtlMs: 3_600_000 });
      expect(await cache.fill(onA, present(1))).toBe('filled');
      expect(await cache.get(onA)).toEqual(present(1));
      expect(redis.a.ttl(cache.cacheKey(onA))).toBe(120_000);
    });

    it('should refuse a fill from a lagging replica once the tombstone of a committed delete expired', async () => {
      const { redis, cache, onA } = setup();
      await cache.commit([{ key: onA, entry: present(3) }]);
      await cache.commit([{ key: onA, entry: deleted(4) }]);
      redis.a.expire(cache.cacheKey(onA));

      // The replica has not replayed the delete yet: it still says version 3 is present.
      expect(await cache.fill(onA, present(3))).toBe('below-floor');
      expect(await cache.fill(onA, { state: 'missing', version: 0 })).toBe('below-floor');
      expect(await cache.get(onA)).toBeUndefined();
      // A replica that caught up fills again; a second fill of the same version is kept out.
      expect(await cache.fill(onA, deleted(4))).toBe('filled');
      expect(await cache.fill(onA, deleted(4))).toBe('kept');
    });

    it('should refuse a fill older than a committed value that expired', async () => {
      const { redis, cache, onB } = setup();
      await cache.commit([{ key: onB, entry: present(7) }]);
      redis.b.expire(cache.cacheKey(onB));
      expect(await cache.fill(onB, present(6))).toBe('below-floor');
      expect(await cache.fill(onB, present(7))).toBe('filled');
    });
  });

  describe('commit', () => {
    it('should cache committed versions for the value TTL and keep the floor longer', async () => {
      const { redis, cache, onA } = setup({ valueTtlMs: 3_600_000, tombstoneTtlMs: 60_000 });
      await expect(cache.commit([{ key: onA, entry: present(1) }])).resolves.toEqual({ outOfMemory: [] });
      expect(await cache.get(onA)).toEqual(present(1));
      expect(redis.a.ttl(cache.cacheKey(onA))).toBe(3_600_000);
      expect(redis.a.ttl(cache.floorKey(onA))).toBe(7_200_000);

      await cache.commit([{ key: onA, entry: deleted(2) }]);
      expect(await cache.get(onA)).toEqual(deleted(2));
      expect(redis.a.ttl(cache.cacheKey(onA))).toBe(60_000);
    });

    it('should carry a committed or filled expiresAt, and clear it with a version written without one', async () => {
      const { cache, onA, onB } = setup();
      const expiresAt = '2026-12-01T10:00:02.000Z';
      await cache.commit([{ key: onA, entry: { ...present(1), expiresAt } }]);
      expect(await cache.get(onA)).toEqual({ ...present(1), expiresAt });
      await cache.commit([{ key: onA, entry: present(2) }]);
      expect(await cache.get(onA)).toEqual(present(2));
      // The expiry delete: the key shows deleted, its version raised by one.
      await cache.commit([{ key: onA, entry: { ...present(3), expiresAt } }]);
      await cache.commit([{ key: onA, entry: deleted(4) }]);
      expect(await cache.get(onA)).toEqual(deleted(4));

      expect(await cache.fill(onB, { ...present(5), expiresAt })).toBe('filled');
      expect(await cache.get(onB)).toEqual({ ...present(5), expiresAt });
    });

    it('should give a version a fill cached first the committed TTL', async () => {
      const { redis, cache, onA } = setup({ fillTtlMs: 1_000, valueTtlMs: 3_600_000 });
      await cache.fill(onA, present(5));
      await cache.commit([{ key: onA, entry: present(5) }]);
      expect(redis.a.ttl(cache.cacheKey(onA))).toBe(3_600_000);
    });

    it('should never go backwards: a late commit of an older version changes nothing', async () => {
      const { cache, onA } = setup();
      await cache.commit([{ key: onA, entry: present(2) }]);
      await cache.commit([{ key: onA, entry: present(1) }]);
      expect(await cache.get(onA)).toEqual(present(2));
    });

    it('should wait once per master for a replica to acknowledge', async () => {
      const { redis, cache, onA, onB } = setup({ replicaAckTimeoutMs: 250 });
      const moreOnA = ['x1', 'x2', 'x3', 'x4', 'x5', 'x6'].filter((k) => redis.node(cache.cacheKey(k)) === redis.a);
      await cache.commit([onA, onB, ...moreOnA].map((key) => ({ key, entry: present(1) })));
      expect(redis.a.waits).toEqual([[1, 250]]);
      expect(redis.b.waits).toEqual([[1, 250]]);
    });

    it('should reject with CacheReplicationError when a connected replica does not acknowledge in time', async () => {
      const { redis, cache, onA, onB } = setup();
      redis.b.replicaAcks = false;
      const err = await cache.commit([onA, onB].map((key) => ({ key, entry: present(1) }))).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CacheReplicationError);
      expect(err).toMatchObject({ node: redis.b.name, message: expect.stringContaining('acknowledged') });

      // Retrying is safe and succeeds once the replica caught up.
      redis.b.replicaAcks = true;
      await expect(cache.commit([onA, onB].map((key) => ({ key, entry: present(1) })))).resolves.toEqual({
        outOfMemory: [],
      });
      expect(await cache.get(onB)).toEqual(present(1));
    });

    it('should not wait for a master without a replica, and wait again once one is back', async () => {
      const { redis, cache, onA } = setup();
      redis.a.replicas = 0;
      await expect(cache.commit([{ key: onA, entry: present(1) }])).resolves.toEqual({ outOfMemory: [] });
      await expect(cache.commit([{ key: onA, entry: present(2) }])).resolves.toEqual({ outOfMemory: [] });
      expect(redis.a.waits.map(([replicas]) => replicas)).toEqual([1, 0]);

      // The replica is back but has not acknowledged what was written without it being waited for: retry.
      redis.a.replicas = 1;
      redis.a.replicaAcks = false;
      await expect(cache.commit([{ key: onA, entry: present(3) }])).rejects.toBeInstanceOf(CacheReplicationError);
      redis.a.replicaAcks = true;
      await expect(cache.commit([{ key: onA, entry: present(3) }])).resolves.toEqual({ outOfMemory: [] });
      expect(redis.a.waits.map(([replicas]) => replicas)).toEqual([1, 0, 0, 1]);
    });

    it('should reject when the node that took the update is no longer a master', async () => {
      const { redis, cache, onA } = setup();
      redis.a.master = false;
      await expect(cache.commit([{ key: onA, entry: present(1) }])).rejects.toBeInstanceOf(CacheReplicationError);
    });

    it('should remove the entry and report the key when Redis is out of memory', async () => {
      const { redis, cache, onA, onB } = setup();
      await cache.commit([{ key: onA, entry: present(1) }]);
      redis.a.outOfMemory = true;
      await expect(cache.commit([onA, onB].map((key) => ({ key, entry: present(2) })))).resolves.toEqual({
        outOfMemory: [onA],
      });
      expect(await cache.get(onA)).toBeUndefined();
      expect(await cache.get(onB)).toEqual(present(2));
    });
  });
});
