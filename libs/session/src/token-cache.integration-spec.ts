import { randomBytes } from 'node:crypto';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisCluster } from '@keyflow/cache';
import { readStack } from '@keyflow/testing';
import { TokenCache } from './token-cache.service';

describe(TokenCache.name, () => {
  let redis: Cluster;
  let cache: TokenCache<{ username: string }>;

  beforeAll(() => {
    redis = createRedisCluster({ nodes: readStack().redis });
    cache = new TokenCache(redis, { prefix: `it-token:${randomBytes(4).toString('hex')}:` });
  });
  afterAll(() => redis.disconnect());

  it('should remember an owner until the token is revoked', async () => {
    await cache.fill('h1', { username: 'ada' });
    expect(await cache.get('h1')).toEqual({ username: 'ada' });
    await cache.revoke('h1');
    expect(await cache.get('h1')).toBe('revoked');
    expect(await cache.get('unknown')).toBeUndefined();
  });

  it('should never let a lookup that raced a revocation put the token back', async () => {
    await cache.revoke('h2');
    await cache.fill('h2', { username: 'stale read' });
    expect(await cache.get('h2')).toBe('revoked');
  });
});
