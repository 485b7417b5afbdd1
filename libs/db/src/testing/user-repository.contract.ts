import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema } from '@keyflow/testing';
import { runMigrations } from '../migrations/migration.service';
import { UserRepository } from '../users/user.repository';

const ALL = [{ prefix: '', access: 'write' as const }];
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
        const created = await users.create({
          username: 'ada',
          passwordHash: '$argon2id$fake',
          role: 'user',
          grants: ALL,
        });
        expect(created).toEqual({
          id: expect.any(String),
          username: 'ada',
          role: 'user',
          grants: ALL,
          createdAt: expect.any(String),
        });
        expect(await users.findByUsername('ada')).toEqual({ ...created, passwordHash: '$argon2id$fake' });
        expect(await users.findByUsername('nobody')).toBeUndefined();
      });

      it('should refuse a taken username with USER_EXISTS, even when two creators race', async () => {
        const results = await Promise.allSettled([
          users.create({ username: 'grace', passwordHash: 'h1', role: 'user', grants: ALL }),
          users.create({ username: 'grace', passwordHash: 'h2', role: 'admin', grants: ALL }),
        ]);
        expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
        const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(rejected?.reason).toMatchObject({ code: 'user-exists', message: 'a user named "grace" already exists' });
      });

      it('should refuse a role the schema does not know', async () => {
        await expect(
          users.create({ username: 'mallory', passwordHash: 'h', role: 'root' as unknown as 'user', grants: [] }),
        ).rejects.toMatchObject({ code: '23514' });
      });
    });

    describe('tokens', () => {
      it('should find an active token by its hash, and never after revocation (which may be repeated)', async () => {
        const owner = await users.create({ username: 'tok-owner', passwordHash: 'h', role: 'admin', grants: ALL });
        const hash = tokenHash();
        const { id } = await users.createToken({ userId: owner.id, name: 'ci', tokenHash: hash });
        expect(await users.findActiveToken(hash)).toEqual({
          tokenId: id,
          userId: owner.id,
          username: 'tok-owner',
          role: 'admin',
          userGrants: ALL,
          tokenGrants: null,
        });
        expect(await users.revokeToken(id, owner.id)).toBe(hash);
        expect(await users.findActiveToken(hash)).toBeUndefined();
        // Idempotent: a retry (say, after the cache eviction failed) gets the hash again.
        expect(await users.revokeToken(id, owner.id)).toBe(hash);
        expect(await users.revokeToken(randomUUID(), owner.id)).toBeUndefined();
      });

      it("should let a user revoke only their own tokens, and an admin (no owner given) anyone's", async () => {
        const a = await users.create({ username: 'tok-a', passwordHash: 'h', role: 'user', grants: ALL });
        const b = await users.create({ username: 'tok-b', passwordHash: 'h', role: 'user', grants: ALL });
        const hash = tokenHash();
        const { id } = await users.createToken({ userId: a.id, name: 'a', tokenHash: hash });
        expect(await users.revokeToken(id, b.id)).toBeUndefined();
        expect(await users.findActiveToken(hash)).toBeDefined();
        expect(await users.revokeToken(id, null)).toBe(hash);
      });

      it("should keep a token's grants and expiry, list it without its hash, and stop finding it once expired", async () => {
        const owner = await users.create({ username: 'tok-life', passwordHash: 'h', role: 'user', grants: ALL });
        const hash = tokenHash();
        const grants = [{ prefix: 'app/', access: 'read' as const }];
        const made = new Date('2026-01-01T00:00:00.000Z');
        const { id } = await users.createToken(
          { userId: owner.id, name: 'ro', tokenHash: hash, grants, expiresAt: '2026-01-01T01:00:00.000Z' },
          made,
        );
        expect(await users.findActiveToken(hash, new Date('2026-01-01T00:59:59.000Z'))).toMatchObject({
          tokenId: id,
          tokenGrants: grants,
          expiresAt: '2026-01-01T01:00:00.000Z',
        });
        expect(await users.findActiveToken(hash, new Date('2026-01-01T01:00:00.000Z'))).toBeUndefined();
        await users.touchToken(id, new Date('2026-01-01T00:10:00.000Z'));
        // Within the minute: not written again.
        await users.touchToken(id, new Date('2026-01-01T00:10:30.000Z'));
        expect(await users.listTokens(owner.id)).toEqual([
          {
            id,
            name: 'ro',
            grants,
            createdAt: made.toISOString(),
            expiresAt: '2026-01-01T01:00:00.000Z',
            lastUsedAt: '2026-01-01T00:10:00.000Z',
          },
        ]);
        expect(await users.tokenHashesOf(owner.id)).toEqual([hash]);
        await users.revokeToken(id, owner.id);
        expect(await users.listTokens(owner.id)).toEqual([]);
        expect(await users.tokenHashesOf(owner.id)).toEqual([]);
      });
    });

    describe('accounts', () => {
      it('should set grants, disable (no token then works) and enable, change the password, and list users', async () => {
        const user = await users.create({ username: 'acct', passwordHash: 'old', role: 'user', grants: [] });
        const hash = tokenHash();
        await users.createToken({ userId: user.id, name: 't', tokenHash: hash });
        const grants = [{ prefix: 'acct/', access: 'write' as const }];
        expect(await users.setGrants('acct', grants)).toMatchObject({ username: 'acct', grants });
        expect(await users.setGrants('nobody-here', grants)).toBeUndefined();

        const at = new Date('2026-02-02T00:00:00.000Z');
        expect(await users.setDisabled('acct', true, at)).toMatchObject({ disabledAt: at.toISOString() });
        expect(await users.setDisabled('acct', true)).toMatchObject({ disabledAt: at.toISOString() });
        expect(await users.findActiveToken(hash)).toBeUndefined();
        expect((await users.setDisabled('acct', false))?.disabledAt).toBeUndefined();
        expect(await users.findActiveToken(hash)).toMatchObject({ userGrants: grants });

        await users.setPasswordHash(user.id, 'new');
        expect(await users.findById(user.id)).toMatchObject({ username: 'acct', passwordHash: 'new' });
        const listed = await users.list();
        expect(listed.map((u) => u.username)).toEqual([...listed.map((u) => u.username)].sort());
        expect(listed.find((u) => u.username === 'acct')).toEqual({
          id: user.id,
          username: 'acct',
          role: 'user',
          grants,
          createdAt: user.createdAt,
        });
      });
    });
  });
}
