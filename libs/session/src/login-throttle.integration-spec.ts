import { randomBytes } from 'node:crypto';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisCluster } from '@keyflow/cache';
import { readStack, redisLogin } from '@keyflow/testing';
import { LoginThrottle } from './login-throttle.service';

describe(LoginThrottle.name, () => {
  let redis: Cluster;
  const prefix = () => `it-login:${randomBytes(4).toString('hex')}:`;

  beforeAll(() => {
    redis = createRedisCluster({ nodes: readStack().redis, ...redisLogin('admin') });
  });
  afterAll(() => redis.disconnect());

  describe('attempt', () => {
    it('should refuse the attempt after the per-user limit, with the seconds left in the window', async () => {
      const throttle = new LoginThrottle(redis, { prefix: prefix(), maxPerUser: 3, windowMs: 30_000 });
      const verdicts = [];
      for (let i = 0; i < 4; i++) verdicts.push(await throttle.attempt('Ada', '10.0.0.1'));
      expect(verdicts.slice(0, 3)).toEqual([{ allowed: true }, { allowed: true }, { allowed: true }]);
      expect(verdicts[3]).toEqual({ allowed: false, retryAfterSeconds: 30 });
      // Usernames are counted case-insensitively, per address: Ada from elsewhere is not locked out.
      expect(await throttle.attempt('ada', '10.0.0.1')).toMatchObject({ allowed: false });
      expect(await throttle.attempt('ada', '10.0.0.2')).toEqual({ allowed: true });
      expect(await throttle.attempt('grace', '10.0.0.2')).toEqual({ allowed: true });
    });

    it("should never let a stranger's failures lock a user out of another address", async () => {
      const throttle = new LoginThrottle(redis, { prefix: prefix(), maxPerUser: 5, maxPerAddress: 50 });
      const stranger = [];
      for (let i = 0; i < 50; i++) stranger.push(await throttle.attempt('admin', '10.0.5.66'));
      expect(stranger.at(-1)).toMatchObject({ allowed: false });
      expect(await throttle.attempt('admin', '10.0.5.1')).toEqual({ allowed: true });
    });

    it('should count parallel attempts exactly, across clients of the cluster', async () => {
      const p = prefix();
      const other = createRedisCluster({ nodes: readStack().redis.slice(3), ...redisLogin('admin') });
      const throttles = [
        new LoginThrottle(redis, { prefix: p, maxPerUser: 5 }),
        new LoginThrottle(other, { prefix: p, maxPerUser: 5 }),
      ];
      const verdicts = await Promise.all(
        Array.from({ length: 12 }, (_, i) => throttles[i % 2]?.attempt('bob', '10.0.1.1')),
      );
      other.disconnect();
      expect(verdicts.filter((v) => v?.allowed)).toHaveLength(5);
    });

    it('should refuse an address that tries many usernames', async () => {
      const throttle = new LoginThrottle(redis, { prefix: prefix(), maxPerAddress: 2, windowMs: 10_000 });
      await throttle.attempt('u1', '10.0.2.1');
      await throttle.attempt('u2', '10.0.2.1');
      expect(await throttle.attempt('u3', '10.0.2.1')).toEqual({ allowed: false, retryAfterSeconds: 10 });
      expect(await throttle.attempt('u3', '10.0.2.2')).toEqual({ allowed: true });
    });
  });

  describe('succeeded', () => {
    it("should clear the username's count and charge the address only for the failures", async () => {
      const throttle = new LoginThrottle(redis, { prefix: prefix(), maxPerUser: 2, maxPerAddress: 3 });
      await throttle.attempt('carol', '10.0.3.1');
      await throttle.attempt('carol', '10.0.3.1');
      await throttle.succeeded('carol', '10.0.3.1');
      expect(await throttle.attempt('carol', '10.0.3.1')).toEqual({ allowed: true });
      expect(await throttle.attempt('carol', '10.0.3.1')).toEqual({ allowed: true });
      expect(await throttle.attempt('carol', '10.0.3.1')).toMatchObject({ allowed: false });
    });

    it('should leave no counter behind when the window ended before the success', async () => {
      const p = prefix();
      const throttle = new LoginThrottle(redis, { prefix: p });
      await throttle.attempt('dave', '10.0.4.1');
      await redis.del(`${p}addr:10.0.4.1`); // the window ran out between the attempt and the success
      await throttle.succeeded('dave', '10.0.4.1');
      expect(await redis.exists(`${p}addr:10.0.4.1`)).toBe(0);
    });
  });
});
