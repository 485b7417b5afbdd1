import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { DomainError, ErrorCode } from '@keyflow/contracts';
import {
  INSERT_TOKEN,
  INSERT_USER,
  REVOKE_TOKEN,
  SELECT_ACTIVE_TOKEN,
  SELECT_TOKENS_OF_USER,
  SELECT_USER_BY_USERNAME,
} from './user.sql';

export type UserRole = 'admin' | 'user';

export interface UserRecord {
  id: string;
  username: string;
  role: UserRole;
  createdAt: string;
}

export interface UserWithHash extends UserRecord {
  passwordHash: string;
}

export interface TokenOwner {
  tokenId: string;
  userId: string;
  username: string;
  role: UserRole;
}

/** A token as its owner sees it: never its hash. */
export interface TokenRecord {
  id: string;
  name: string;
  createdAt: string;
  /** null while it works. */
  revokedAt: string | null;
}

interface TokenRow {
  id: string;
  name: string;
  created_at: Date;
  revoked_at: Date | null;
}

interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  role: UserRole;
  created_at: Date;
}

interface TokenOwnerRow {
  token_id: string;
  user_id: string;
  username: string;
  role: UserRole;
}

const UNIQUE_VIOLATION = '23505';

/**
 * Users and their API tokens. Hashing is the caller's job: this repository only ever sees password hashes and
 * token hashes. Reads go to the pool it is given; give it the primary's pool, so a revocation is seen at once.
 */
export class UserRepository {
  constructor(private readonly pool: Pool) {}

  /** Throws `USER_EXISTS` when the username is taken. */
  async create(
    user: { username: string; passwordHash: string; role: UserRole },
    now = new Date(),
  ): Promise<UserRecord> {
    const id = randomUUID();
    try {
      await this.pool.query(INSERT_USER, [id, user.username, user.passwordHash, user.role, now.toISOString()]);
    } catch (err) {
      if ((err as { code?: string }).code === UNIQUE_VIOLATION) {
        throw new DomainError(ErrorCode.USER_EXISTS, `a user named "${user.username}" already exists`);
      }
      throw err;
    }
    return { id, username: user.username, role: user.role, createdAt: now.toISOString() };
  }

  async findByUsername(username: string): Promise<UserWithHash | undefined> {
    const row = (await this.pool.query<UserRow>(SELECT_USER_BY_USERNAME, [username])).rows[0];
    if (!row) return undefined;
    return {
      id: row.id,
      username: row.username,
      role: row.role,
      createdAt: row.created_at.toISOString(),
      passwordHash: row.password_hash,
    };
  }

  async createToken(
    token: { userId: string; name: string; tokenHash: string },
    now = new Date(),
  ): Promise<{ id: string; createdAt: string }> {
    const id = randomUUID();
    await this.pool.query(INSERT_TOKEN, [id, token.userId, token.name, token.tokenHash, now.toISOString()]);
    return { id, createdAt: now.toISOString() };
  }

  async findActiveToken(tokenHash: string): Promise<TokenOwner | undefined> {
    const row = (await this.pool.query<TokenOwnerRow>(SELECT_ACTIVE_TOKEN, [tokenHash])).rows[0];
    return row ? { tokenId: row.token_id, userId: row.user_id, username: row.username, role: row.role } : undefined;
  }

  /** The user's tokens, newest first, at most `limit` of them (revoked ones included). */
  async listTokens(userId: string, limit = 1000): Promise<TokenRecord[]> {
    const { rows } = await this.pool.query<TokenRow>(SELECT_TOKENS_OF_USER, [userId, limit]);
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      createdAt: row.created_at.toISOString(),
      revokedAt: row.revoked_at ? row.revoked_at.toISOString() : null,
    }));
  }

  /**
   * Revokes token `id` if, when `ownerId` is given, it belongs to that user. Returns the token's hash (also when
   * it was already revoked: revoking is idempotent), or `undefined` when there is no such token.
   */
  async revokeToken(id: string, ownerId: string | null, now = new Date()): Promise<string | undefined> {
    const result = await this.pool.query<{ token_hash: string }>(REVOKE_TOKEN, [id, ownerId, now.toISOString()]);
    return result.rows[0]?.token_hash;
  }
}
