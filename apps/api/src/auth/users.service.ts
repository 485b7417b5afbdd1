import { Inject, Injectable, Logger } from '@nestjs/common';
import { DomainError, ErrorCode } from '@keyflow/contracts';
import { type TokenOwner, UserRepository, type UserRecord, type UserRole } from '@keyflow/db';
import { SessionStore, TokenCache } from '@keyflow/session';
import { checkedGrants, needRedis } from './auth.service';
import { hashPassword } from './credentials.util';
import type { Principal } from './principal';

/**
 * Accounts, as admins manage them: creating, listing, granting, disabling. A change to what a user may do reaches
 * every API instance at once: sessions live only in Redis (rewritten or deleted here), and every cached token of
 * the user is invalidated in the shared cache, which announces it to every instance's in-process copy.
 */
@Injectable()
export class UsersService {
  private readonly logger = new Logger(UsersService.name);

  constructor(
    private readonly users: UserRepository,
    private readonly sessions: SessionStore,
    @Inject(TokenCache) private readonly tokens: TokenCache<TokenOwner>,
  ) {}

  /** A new user has exactly the grants given: none when none are (an admin has everything anyway). */
  async create(input: { username: string; password: string; role: UserRole; grants?: unknown }): Promise<UserRecord> {
    return this.users.create({
      username: input.username,
      passwordHash: await hashPassword(input.password),
      role: input.role,
      grants: input.grants === undefined ? [] : checkedGrants(input.grants),
    });
  }

  list(): Promise<UserRecord[]> {
    return this.users.list();
  }

  /** Replaces the user's grants; their sessions and tokens act with the new ones from the next request on. */
  async setGrants(username: string, grants: unknown): Promise<UserRecord> {
    const user = await this.users.setGrants(username, checkedGrants(grants));
    if (!user) throw noSuchUser(username);
    await needRedis(this.sessions.updateGrants(user.id, user.grants), 'the session store');
    await this.invalidateTokens(user.id);
    return user;
  }

  /**
   * Disables (or enables) an account. Disabling ends every session of the user and stops every token at once, on
   * every instance: the database refuses the user's tokens from now on and the caches are told to ask it again.
   * Enabling lets the user log in again; their tokens work again unless they expired or were revoked.
   */
  async setDisabled(principal: Principal, username: string, disabled: boolean): Promise<UserRecord> {
    if (disabled && username === principal.username) {
      throw new DomainError(ErrorCode.INVALID_REQUEST, 'you cannot disable your own account; ask another admin');
    }
    const user = await this.users.setDisabled(username, disabled);
    if (!user) throw noSuchUser(username);
    if (disabled) {
      const ended = await needRedis(this.sessions.destroyAllOf(user.id), 'the session store');
      await this.invalidateTokens(user.id);
      this.logger.log({ username, sessionsEnded: ended, by: principal.username }, 'account disabled');
    }
    return user;
  }

  private async invalidateTokens(userId: string): Promise<void> {
    const hashes = await this.users.tokenHashesOf(userId);
    await needRedis(Promise.all(hashes.map((h) => this.tokens.invalidate(h))), 'the shared token cache');
  }
}

function noSuchUser(username: string): DomainError {
  return new DomainError(ErrorCode.USER_NOT_FOUND, `there is no user named ${JSON.stringify(username)}`);
}
