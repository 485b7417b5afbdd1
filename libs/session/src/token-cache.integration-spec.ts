import { randomBytes } from 'node:crypto';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisCluster } from '@keyflow/cache';
import { pollUntil, readStack, redisLogin } from '@keyflow/testing';
import { TokenCache } from './token-cache.service';

describe(TokenCache.name, () => {
  let redis: Cluster;
  let cache: TokenCache<{ username: string }>;

  beforeAll(() => {
    redis = createRedisCluster({ nodes: readStack().redis, ...redisLogin('admin') });
    cache = new TokenCache(redis, { prefix: `it-token:${randomBytes(4).toString('hex')}:` });
  });
  afterAll(async () => {
    await cache.close();
    redis.disconnect();
  });

  it('should remember an owner until the token is revoked', async () => {
    await cache.fill('h1', { username: 'ada' });
    expect(await cache.get('h1')).toEqual({ username: 'ada' });
    await cache.revoke('h1');
    expect(await cache.get('h1')).toBe('revoked');
    expect(await cache.get('unknown')).toBeUndefined();
  });

  it('should send an invalidated token to the database, and refuse fills from lookups that raced the change', async () => {
    await cache.fill('h3', { username: 'before' });
    expect(await cache.get('h3')).toEqual({ username: 'before' });
    await cache.invalidate('h3');
    await cache.fill('h3', { username: 'read before the change' });
    expect(await cache.get('h3')).toBeUndefined();
  });

  it('should never let a lookup that raced a revocation put the token back', async () => {
    await cache.revoke('h2');
    await cache.fill('h2', { username: 'stale read' });
    expect(await cache.get('h2')).toBe('revoked');
  });

  it('should drop an owner remembered by another instance as soon as the token is revoked', async () => {
    const prefix = `it-token:${randomBytes(4).toString('hex')}:`;
    const [a, b] = [
      new TokenCache<{ username: string }>(redis, { prefix }),
      new TokenCache<{ username: string }>(redis, { prefix, localTtlMs: 60_000 }),
    ];
    try {
      await Promise.all([a.listen(), b.listen()]);
      await a.fill('h3', { username: 'ada' });
      expect(await b.get('h3')).toEqual({ username: 'ada' });
      // b now answers from memory, even for a token Redis no longer knows...
      await redis.del(`${prefix}h3`);
      expect(await b.get('h3')).toEqual({ username: 'ada' });
      // ...until a revocation is announced.
      await a.revoke('h3');
      await pollUntil(
        () => b.get('h3'),
        (owner) => owner === 'revoked',
        { what: 'b to drop the token', timeoutMs: 1_000, intervalMs: 10 },
      );
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('should trust its memory no longer than localTtlMs, announcement or not', async () => {
    const prefix = `it-token:${randomBytes(4).toString('hex')}:`;
    const local = new TokenCache<{ username: string }>(redis, { prefix, localTtlMs: 900 });
    await local.fill('h4', { username: 'ada' });
    const now = Date.now();
    expect(await local.get('h4', now)).toEqual({ username: 'ada' });
    // Revoked behind its back (no announcement reaches a cache that does not listen).
    await redis.set(`${prefix}h4`, 'revoked');
    expect(await local.get('h4', now + 899)).toEqual({ username: 'ada' });
    expect(await local.get('h4', now + 900)).toBe('revoked');
  });
});
