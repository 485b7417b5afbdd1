import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { DomainError, ErrorCode } from '@keyflow/contracts';
import { type TokenOwner, type TokenRecord, UserRepository, type UserRecord, type UserRole } from '@keyflow/db';
import { LoginThrottle, SessionStore, TokenCache } from '@keyflow/session';
import { generateApiToken, hashApiToken, hashPassword, isApiTokenShaped, verifyPassword } from './credentials.util';
import type { Principal } from './principal';

/** What a request offers as proof of identity; the guard extracts it from headers and cookies. */
export interface Credentials {
  bearer?: string;
  sessionId?: string;
}

export interface CreatedToken {
  id: string;
  name: string;
  token: string;
  createdAt: string;
}

const WRONG_CREDENTIALS = 'wrong username or password';

/** Sessions and login counters live only in Redis: while a node fails over, say so (503) rather than fail (500). */
async function needRedis<T>(work: Promise<T>, what: string): Promise<T> {
  try {
    return await work;
  } catch (err) {
    throw new DomainError(
      ErrorCode.AUTH_UNAVAILABLE,
      `${what} cannot be reached right now (${(err as Error).message}); retry shortly`,
      { retryAfterSeconds: 1 },
    );
  }
}

/**
 * Logging in and out, sessions, API tokens and users. Sessions and the token cache live in the Redis cluster
 * and users and tokens in the database, so every instance accepts every session and sees every revocation.
 */
@Injectable()
export class AuthService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(AuthService.name);
  /** Verified against when the username is unknown, so a miss costs as much time as a wrong password. */
  private decoyHash = '';

  constructor(
    private readonly users: UserRepository,
    private readonly sessions: SessionStore,
    private readonly throttle: LoginThrottle,
    @Inject(TokenCache) private readonly tokens: TokenCache<TokenOwner>,
  ) {}

  async onModuleInit(): Promise<void> {
    this.decoyHash = await hashPassword(generateApiToken());
    // Revocations announced by other instances; without them a revoked token still ends within 0.9 s here.
    await this.tokens.listen().catch((err: unknown) => {
      this.logger.warn({ err }, 'not subscribed to token revocations; tokens are re-checked every 0.9 s');
    });
  }

  async onModuleDestroy(): Promise<void> {
    await this.tokens.close();
  }

  /**
   * Checks the password and opens a new session; a session the caller already had is destroyed (rotation).
   * Every failure is the same 401, whether the user exists or not.
   */
  async login(
    username: string,
    password: string,
    clientAddress: string,
    previousSessionId?: string,
  ): Promise<{ sessionId: string; user: UserRecord }> {
    const verdict = await needRedis(this.throttle.attempt(username, clientAddress), 'the login rate limiter');
    if (!verdict.allowed) {
      this.logger.warn({ clientAddress }, 'login throttled for a username');
      throw new DomainError(
        ErrorCode.RATE_LIMITED,
        `too many login attempts; try again in ${verdict.retryAfterSeconds} s`,
        { retryAfterSeconds: verdict.retryAfterSeconds },
      );
    }
    const found = await this.users.findByUsername(username);
    const ok = await verifyPassword(found?.passwordHash ?? this.decoyHash, password);
    if (!found || !ok) throw new DomainError(ErrorCode.UNAUTHENTICATED, WRONG_CREDENTIALS);
    const { passwordHash: _hash, ...user } = found;
    await needRedis(this.throttle.succeeded(username, clientAddress), 'the login rate limiter');
    if (previousSessionId) await needRedis(this.sessions.destroy(previousSessionId), 'the session store');
    const sessionId = await needRedis(
      this.sessions.create({ userId: user.id, username: user.username, role: user.role }),
      'the session store',
    );
    return { sessionId, user };
  }

  async logout(principal: Principal): Promise<void> {
    if (principal.sessionId) await needRedis(this.sessions.destroy(principal.sessionId), 'the session store');
  }

  /**
   * The principal the credentials prove, or `undefined`. A bearer token, when given, is the only thing
   * considered: a bad token is not rescued by a cookie.
   */
  async authenticate({ bearer, sessionId }: Credentials): Promise<Principal | undefined> {
    if (bearer !== undefined) return this.fromToken(bearer);
    if (sessionId === undefined) return undefined;
    const session = await needRedis(this.sessions.touch(sessionId), 'the session store');
    if (!session) return undefined;
    return {
      userId: session.userId,
      username: session.username,
      role: session.role as UserRole,
      via: 'session',
      sessionId,
      sessionStartedAt: session.createdAt,
    };
  }

  async createToken(principal: Principal, name: string): Promise<CreatedToken> {
    const token = generateApiToken();
    const { id, createdAt } = await this.users.createToken({
      userId: principal.userId,
      name,
      tokenHash: hashApiToken(token),
    });
    return { id, name, token, createdAt };
  }

  /** The caller's own tokens, newest first; revoked ones too, with when. */
  listTokens(principal: Principal): Promise<TokenRecord[]> {
    return this.users.listTokens(principal.userId);
  }

  /**
   * Users revoke their own tokens; admins anyone's. The database first, then the shared cache every instance
   * reads. Only when both are done is the revocation reported: if the cache cannot be written the caller gets
   * 503 and retries (revoking is idempotent).
   */
  async revokeToken(principal: Principal, id: string): Promise<void> {
    const hash = await this.users.revokeToken(id, principal.role === 'admin' ? null : principal.userId);
    if (!hash) throw new DomainError(ErrorCode.TOKEN_NOT_FOUND, `no token ${id} of yours`);
    // Revoked in the database already; a retry after a 503 here repeats the (idempotent) revocation.
    await needRedis(this.tokens.revoke(hash), 'the shared token cache');
  }

  async createUser(input: { username: string; password: string; role: UserRole }): Promise<UserRecord> {
    return this.users.create({
      username: input.username,
      passwordHash: await hashPassword(input.password),
      role: input.role,
    });
  }

  private async fromToken(token: string): Promise<Principal | undefined> {
    if (!isApiTokenShaped(token)) return undefined;
    const hash = hashApiToken(token);
    // The cache only saves a query: while Redis fails over, the database answers (and is the truth anyway).
    const cached = await this.tokens.get(hash).catch(() => undefined);
    if (cached === 'revoked') return undefined;
    let owner = cached;
    if (!owner) {
      owner = await this.users.findActiveToken(hash);
      if (!owner) return undefined;
      await this.tokens.fill(hash, owner).catch((err: unknown) => {
        this.logger.warn({ err }, 'token cache fill failed');
      });
    }
    return { userId: owner.userId, username: owner.username, role: owner.role, via: 'token', tokenId: owner.tokenId };
  }
}
