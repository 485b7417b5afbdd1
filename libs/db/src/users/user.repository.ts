import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { DomainError, ErrorCode, type Grant } from '@keyflow/contracts';
import {
  INSERT_TOKEN,
  INSERT_USER,
  REVOKE_TOKEN,
  SELECT_ACTIVE_TOKEN,
  SELECT_TOKEN_HASHES_OF_USER,
  SELECT_TOKENS_OF_USER,
  SELECT_USER_BY_ID,
  SELECT_USER_BY_USERNAME,
  SELECT_USERS,
  TOUCH_TOKEN,
  UPDATE_USER_DISABLED,
  UPDATE_USER_GRANTS,
  UPDATE_USER_PASSWORD,
} from './user.sql';

export type UserRole = 'admin' | 'user';

export interface UserRecord {
  id: string;
  username: string;
  role: UserRole;
  /** What the user may read and write (admins: everything, whatever is stored here). */
  grants: Grant[];
  /** Set while the account is disabled. */
  disabledAt?: string;
  createdAt: string;
}

export interface UserWithHash extends UserRecord {
  passwordHash: string;
}

/** Who a token acts for, and with what: its owner's grants now and its own (null: all of its owner's). */
export interface TokenOwner {
  tokenId: string;
  userId: string;
  username: string;
  role: UserRole;
  userGrants: Grant[];
  tokenGrants: Grant[] | null;
  expiresAt?: string;
}

/** A token as its owner sees it in a listing: never the secret, nor its hash. */
export interface TokenRecord {
  id: string;
  name: string;
  grants: Grant[] | null;
  createdAt: string;
  expiresAt?: string;
  lastUsedAt?: string;
}

interface UserRow {
  id: string;
  username: string;
  role: UserRole;
  grants: Grant[];
  disabled_at: Date | null;
  created_at: Date;
}

interface TokenOwnerRow {
  token_id: string;
  user_id: string;
  username: string;
  role: UserRole;
  user_grants: Grant[];
  token_grants: Grant[] | null;
  expires_at: Date | null;
}

interface TokenRow {
  id: string;
  name: string;
  grants: Grant[] | null;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
}

const UNIQUE_VIOLATION = '23505';

function toUser(row: UserRow): UserRecord {
  return {
    id: row.id,
    username: row.username,
    role: row.role,
    grants: row.grants,
    ...(row.disabled_at ? { disabledAt: row.disabled_at.toISOString() } : {}),
    createdAt: row.created_at.toISOString(),
  };
}

/**
 * Users and their API tokens. Hashing is the caller's job: this repository only ever sees password hashes and
 * token hashes. Reads go to the pool it is given; give it the primary's pool, so a revocation is seen at once.
 */
export class UserRepository {
  constructor(private readonly pool: Pool) {}

  /** Throws `USER_EXISTS` when the username is taken. */
  async create(
    user: { username: string; passwordHash: string; role: UserRole; grants: Grant[] },
    now = new Date(),
  ): Promise<UserRecord> {
    const id = randomUUID();
    try {
      await this.pool.query(INSERT_USER, [
        id,
        user.username,
        user.passwordHash,
        user.role,
        now.toISOString(),
        JSON.stringify(user.grants),
      ]);
    } catch (err) {
      if ((err as { code?: string }).code === UNIQUE_VIOLATION) {
        throw new DomainError(ErrorCode.USER_EXISTS, `a user named "${user.username}" already exists`);
      }
      throw err;
    }
    return { id, username: user.username, role: user.role, grants: user.grants, createdAt: now.toISOString() };
  }

  async findByUsername(username: string): Promise<UserWithHash | undefined> {
    const row = (await this.pool.query<UserRow & { password_hash: string }>(SELECT_USER_BY_USERNAME, [username]))
      .rows[0];
    return row ? { ...toUser(row), passwordHash: row.password_hash } : undefined;
  }

  async findById(id: string): Promise<UserWithHash | undefined> {
    const row = (await this.pool.query<UserRow & { password_hash: string }>(SELECT_USER_BY_ID, [id])).rows[0];
    return row ? { ...toUser(row), passwordHash: row.password_hash } : undefined;
  }

  /** Every user by name, at most `limit`. */
  async list(limit = 1_000): Promise<UserRecord[]> {
    return (await this.pool.query<UserRow>(SELECT_USERS, [limit])).rows.map(toUser);
  }

  /** Replaces a user's grants; `undefined` when there is no such user. */
  async setGrants(username: string, grants: Grant[]): Promise<UserRecord | undefined> {
    const row = (await this.pool.query<UserRow>(UPDATE_USER_GRANTS, [username, JSON.stringify(grants)])).rows[0];
    return row ? toUser(row) : undefined;
  }

  /** Disables or enables an account; `undefined` when there is no such user. */
  async setDisabled(username: string, disabled: boolean, now = new Date()): Promise<UserRecord | undefined> {
    const row = (await this.pool.query<UserRow>(UPDATE_USER_DISABLED, [username, disabled, now.toISOString()])).rows[0];
    return row ? toUser(row) : undefined;
  }

  async setPasswordHash(userId: string, passwordHash: string, now = new Date()): Promise<void> {
    await this.pool.query(UPDATE_USER_PASSWORD, [userId, passwordHash, now.toISOString()]);
  }

  /** `grants` null: the token acts with whatever its owner has. `expiresAt` absent: it never expires. */
  async createToken(
    token: { userId: string; name: string; tokenHash: string; grants?: Grant[] | null; expiresAt?: string },
    now = new Date(),
  ): Promise<{ id: string; createdAt: string }> {
    const id = randomUUID();
    await this.pool.query(INSERT_TOKEN, [
      id,
      token.userId,
      token.name,
      token.tokenHash,
      now.toISOString(),
      token.grants ? JSON.stringify(token.grants) : null,
      token.expiresAt ?? null,
    ]);
    return { id, createdAt: now.toISOString() };
  }

  /** The owner of a token that is neither revoked nor expired, of a user who is not disabled. */
  async findActiveToken(tokenHash: string, now = new Date()): Promise<TokenOwner | undefined> {
    const row = (await this.pool.query<TokenOwnerRow>(SELECT_ACTIVE_TOKEN, [tokenHash, now.toISOString()])).rows[0];
    if (!row) return undefined;
    return {
      tokenId: row.token_id,
      userId: row.user_id,
      username: row.username,
      role: row.role,
      userGrants: row.user_grants,
      tokenGrants: row.token_grants,
      ...(row.expires_at ? { expiresAt: row.expires_at.toISOString() } : {}),
    };
  }

  /** A user's unrevoked tokens (expired ones included), newest first. */
  async listTokens(userId: string, limit = 1_000): Promise<TokenRecord[]> {
    const { rows } = await this.pool.query<TokenRow>(SELECT_TOKENS_OF_USER, [userId, limit]);
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      grants: row.grants,
      createdAt: row.created_at.toISOString(),
      ...(row.expires_at ? { expiresAt: row.expires_at.toISOString() } : {}),
      ...(row.last_used_at ? { lastUsedAt: row.last_used_at.toISOString() } : {}),
    }));
  }

  /** The hashes of a user's unrevoked tokens: what a token cache may hold for them. */
  async tokenHashesOf(userId: string): Promise<string[]> {
    return (await this.pool.query<{ token_hash: string }>(SELECT_TOKEN_HASHES_OF_USER, [userId])).rows.map(
      (r) => r.token_hash,
    );
  }

  /** Records a use of the token (written at most once a minute). */
  async touchToken(id: string, now = new Date()): Promise<void> {
    await this.pool.query(TOUCH_TOKEN, [id, now.toISOString()]);
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
