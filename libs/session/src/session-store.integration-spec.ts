import { randomBytes } from 'node:crypto';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisCluster } from '@keyflow/cache';
import { readStack, redisLogin } from '@keyflow/testing';
import { SessionStore } from './session-store.service';

describe(SessionStore.name, () => {
  let redis: Cluster;
  const prefix = `it-session:${randomBytes(4).toString('hex')}:`;

  beforeAll(() => {
    redis = createRedisCluster({ nodes: readStack().redis, ...redisLogin('admin') });
  });
  afterAll(() => redis.disconnect());

  it('should create a session any client of the cluster can read, and destroy it', async () => {
    const store = new SessionStore(redis, { prefix });
    const id = await store.create({ userId: 'u1', username: 'ada', role: 'user', grants: [] });
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const otherClient = createRedisCluster({ nodes: readStack().redis.slice(3), ...redisLogin('admin') });
    const other = new SessionStore(otherClient, { prefix });
    expect(await other.touch(id)).toMatchObject({ userId: 'u1', username: 'ada', role: 'user', grants: [] });
    otherClient.disconnect();
    await store.destroy(id);
    expect(await store.touch(id)).toBeUndefined();
  });

  it('should expire after the absolute limit even when used', async () => {
    const store = new SessionStore(redis, { prefix, idleTtlMs: 60_000, absoluteTtlMs: 1_000 });
    const start = Date.now();
    const id = await store.create({ userId: 'u2', username: 'bob', role: 'user', grants: [] }, start);
    expect(await store.touch(id, start + 500)).toBeDefined();
    expect(await store.touch(id, start + 1_001)).toBeUndefined();
  });

  it('should push the idle expiry forward on every use, in the same round trip as the read', async () => {
    const store = new SessionStore(redis, { prefix, idleTtlMs: 60_000 });
    const id = await store.create({ userId: 'u3', username: 'cy', role: 'user', grants: [] });
    // Age the session to 1 s of idle time left, as if it had sat unused for 59 s.
    await redis.pexpire(prefix + id, 1_000);
    expect(await store.touch(id)).toMatchObject({ username: 'cy' });
    expect(await redis.pttl(prefix + id)).toBeGreaterThan(50_000);
  });

  it("should end all of a user's sessions but the one kept, and only theirs", async () => {
    const store = new SessionStore(redis, { prefix });
    const [a1, a2, a3, b1] = await Promise.all([
      store.create({ userId: 'ua', username: 'a', role: 'user', grants: [] }),
      store.create({ userId: 'ua', username: 'a', role: 'user', grants: [] }),
      store.create({ userId: 'ua', username: 'a', role: 'user', grants: [] }),
      store.create({ userId: 'ub', username: 'b', role: 'user', grants: [] }),
    ]);
    expect(await store.destroyAllOf('ua', a1)).toBe(2);
    expect(await store.touch(a1)).toBeDefined();
    expect(await store.touch(a2 ?? '')).toBeUndefined();
    expect(await store.touch(a3 ?? '')).toBeUndefined();
    expect(await store.touch(b1 ?? '')).toBeDefined();
    expect(await store.destroyAllOf('ua')).toBe(1);
    expect(await store.touch(a1)).toBeUndefined();
  });

  it("should give a user's live sessions new grants, keeping their expiry", async () => {
    const store = new SessionStore(redis, { prefix, idleTtlMs: 60_000 });
    const id = await store.create({ userId: 'ug', username: 'g', role: 'user', grants: [] });
    await redis.pexpire(prefix + id, 30_000);
    await store.updateGrants('ug', [{ prefix: 'g/', access: 'read' }]);
    expect(await redis.pttl(prefix + id)).toBeLessThanOrEqual(30_000);
    expect(await store.touch(id)).toMatchObject({ grants: [{ prefix: 'g/', access: 'read' }] });
  });

  it('should not accept a session made before sessions carried grants', async () => {
    const store = new SessionStore(redis, { prefix });
    const id = randomBytes(32).toString('base64url');
    await redis.set(prefix + id, JSON.stringify({ userId: 'old', username: 'o', role: 'user', createdAt: Date.now() }));
    expect(await store.touch(id)).toBeUndefined();
  });

  it('should refuse ids that are not session ids', async () => {
    expect(await new SessionStore(redis, { prefix }).touch('../../etc/passwd')).toBeUndefined();
  });
});
