import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema } from '@keyflow/testing';
import { runMigrations } from '../migrations/migration.service';
import { UserRepository } from '../users/user.repository';

const tokenHash = (): string => createHash('sha256').update(randomBytes(32)).digest('hex');

/** Users and API tokens, run against PostgreSQL (the stack) and CockroachDB (when one is given). */
export function describeUserRepositoryContract(databaseUrl: () => string): void {
  describe(UserRepository.name, () => {
    let pool: Pool;
    let drop: () => Promise<void>;
    let users: UserRepository;

    beforeAll(async () => {
      ({ pool, drop } = await createTestSchema(databaseUrl(), 'users'));
      await runMigrations(pool);
      users = new UserRepository(pool);
    });
    afterAll(() => drop());

    describe('create', () => {
      it('should store a user and find it by name with its hash', async () => {
        const created = await users.create({ username: 'ada', passwordHash: '$argon2id$fake', role: 'user' });
        expect(created).toEqual({
          id: expect.any(String),
          username: 'ada',
          role: 'user',
          createdAt: expect.any(String),
        });
        expect(await users.findByUsername('ada')).toEqual({ ...created, passwordHash: '$argon2id$fake' });
        expect(await users.findByUsername('nobody')).toBeUndefined();
      });

      it('should refuse a taken username with USER_EXISTS, even when two creators race', async () => {
        const results = await Promise.allSettled([
          users.create({ username: 'grace', passwordHash: 'h1', role: 'user' }),
          users.create({ username: 'grace', passwordHash: 'h2', role: 'admin' }),
        ]);
        expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
        const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(rejected?.reason).toMatchObject({ code: 'user-exists', message: 'a user named "grace" already exists' });
      });

      it('should refuse a role the schema does not know', async () => {
        await expect(
          users.create({ username: 'mallory', passwordHash: 'h', role: 'root' as unknown as 'user' }),
        ).rejects.toMatchObject({ code: '23514' });
      });
    });

    describe('tokens', () => {
      it('should find an active token by its hash, and never after revocation (which may be repeated)', async () => {
        const owner = await users.create({ username: 'tok-owner', passwordHash: 'h', role: 'admin' });
        const hash = tokenHash();
        const { id } = await users.createToken({ userId: owner.id, name: 'ci', tokenHash: hash });
        expect(await users.findActiveToken(hash)).toEqual({
          tokenId: id,
          userId: owner.id,
          username: 'tok-owner',
          role: 'admin',
        });
        expect(await users.revokeToken(id, owner.id)).toBe(hash);
        expect(await users.findActiveToken(hash)).toBeUndefined();
        // Idempotent: a retry (say, after the cache eviction failed) gets the hash again.
        expect(await users.revokeToken(id, owner.id)).toBe(hash);
        expect(await users.revokeToken(randomUUID(), owner.id)).toBeUndefined();
      });

      it("should let a user revoke only their own tokens, and an admin (no owner given) anyone's", async () => {
        const a = await users.create({ username: 'tok-a', passwordHash: 'h', role: 'user' });
        const b = await users.create({ username: 'tok-b', passwordHash: 'h', role: 'user' });
        const hash = tokenHash();
        const { id } = await users.createToken({ userId: a.id, name: 'a', tokenHash: hash });
        expect(await users.revokeToken(id, b.id)).toBeUndefined();
        expect(await users.findActiveToken(hash)).toBeDefined();
        expect(await users.revokeToken(id, null)).toBe(hash);
      });

      it("should list a user's tokens newest first, revoked ones with their revocation time, and no one else's", async () => {
        const owner = await users.create({ username: 'tok-list', passwordHash: 'h', role: 'user' });
        const other = await users.create({ username: 'tok-other', passwordHash: 'h', role: 'user' });
        const old = await users.createToken(
          { userId: owner.id, name: 'old', tokenHash: tokenHash() },
          new Date('2026-01-01T00:00:00Z'),
        );
        const recent = await users.createToken(
          { userId: owner.id, name: 'recent', tokenHash: tokenHash() },
          new Date('2026-02-01T00:00:00Z'),
        );
        await users.createToken({ userId: other.id, name: 'theirs', tokenHash: tokenHash() });
        await users.revokeToken(old.id, owner.id, new Date('2026-03-01T00:00:00Z'));
        expect(await users.listTokens(owner.id)).toEqual([
          { id: recent.id, name: 'recent', createdAt: '2026-02-01T00:00:00.000Z', revokedAt: null },
          {
            id: old.id,
            name: 'old',
            createdAt: '2026-01-01T00:00:00.000Z',
            revokedAt: '2026-03-01T00:00:00.000Z',
          },
        ]);
        expect(await users.listTokens(owner.id, 1)).toHaveLength(1);
      });
    });
  });
}
