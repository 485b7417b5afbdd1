import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import {
  ALL_KEYS,
  describeBadGrants,
  DomainError,
  ErrorCode,
  type Grant,
  grantsBeyond,
  intersectGrants,
  normaliseGrants,
} from '@keyflow/contracts';
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
  grants: Grant[] | null;
  createdAt: string;
  expiresAt?: string;
}

export interface TokenRequest {
  name: string;
  /** A subset of the creator's grants; absent: whatever the creator may do (see `createToken`). */
  grants?: Grant[];
  /** Seconds until the token expires; absent: never (or when the creating token does). */
  expiresIn?: number;
}

const WRONG_CREDENTIALS = 'wrong username or password';

/** How often (at most) one instance records that a token was used. */
const TOKEN_TOUCH_INTERVAL_MS = 60_000;

/** Sessions and login counters live only in Redis: while a node fails over, say so (503) rather than fail (500). */
export async function needRedis<T>(work: Promise<T>, what: string): Promise<T> {
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

/** Grants as a request body gave them, checked (400 naming each bad one) and without anything redundant. */
export function checkedGrants(grants: unknown): Grant[] {
  const problems = describeBadGrants(grants);
  if (problems.length > 0) throw new DomainError(ErrorCode.INVALID_REQUEST, problems.join('; '));
  return normaliseGrants(grants as Grant[]);
}

/** What a user's credentials allow: an admin everything, anyone else their grants. */
export function userGrants(role: UserRole, grants: readonly Grant[]): Grant[] {
  return role === 'admin' ? [...ALL_KEYS] : normaliseGrants(grants);
}

/**
 * Logging in and out, sessions, passwords and API tokens. Sessions and the token cache live in the Redis cluster and
 * users and tokens in the database, so every instance accepts every session and sees every revocation.
 */
@Injectable()
export class AuthService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(AuthService.name);
  /** Verified against when the username is unknown, so a miss costs as much time as a wrong password. */
  private decoyHash = '';
  /** When this instance last recorded each token's use (bounded: cleared when it grows past 10,000). */
  private readonly tokenTouched = new Map<string, number>();

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
   * Every failure is the same 401, whether the user exists or not; a disabled account says so, but only to someone
   * who knows its password.
   */
  async login(
    username: string,
    password: string,
    clientAddress: string,
    previousSessionId?: string,
  ): Promise<{ sessionId: string; user: UserRecord }> {
    const found = await this.checkPassword(username, password, clientAddress);
    const { passwordHash: _hash, ...user } = found;
    if (user.disabledAt) throw new DomainError(ErrorCode.UNAUTHENTICATED, 'this account is disabled');
    await needRedis(this.throttle.succeeded(username, clientAddress), 'the login rate limiter');
    if (previousSessionId) await needRedis(this.sessions.destroy(previousSessionId), 'the session store');
    const sessionId = await needRedis(
      this.sessions.create({
        userId: user.id,
        username: user.username,
        role: user.role,
        grants: user.grants,
      }),
      'the session store',
    );
    return { sessionId, user };
  }

  async logout(principal: Principal): Promise<void> {
    if (principal.sessionId) await needRedis(this.sessions.destroy(principal.sessionId), 'the session store');
  }

  /**
   * Changes the caller's password; the old one must be given (a wrong one counts as a failed login). Every other
   * session of the user ends at once, on every instance; the caller's own session (if it is one) stays. API tokens
   * are not passwords and keep working: revoke them separately.
   */
  async changePassword(
    principal: Principal,
    currentPassword: string,
    newPassword: string,
    clientAddress: string,
  ): Promise<{ sessionsEnded: number }> {
    await this.checkPassword(principal.username, currentPassword, clientAddress);
    await needRedis(this.throttle.succeeded(principal.username, clientAddress), 'the login rate limiter');
    await this.users.setPasswordHash(principal.userId, await hashPassword(newPassword));
    const sessionsEnded = await needRedis(
      this.sessions.destroyAllOf(principal.userId, principal.sessionId),
      'the session store',
    );
    this.logger.log({ username: principal.username, sessionsEnded }, 'password changed');
    return { sessionsEnded };
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
    const role = session.role as UserRole;
    return {
      userId: session.userId,
      username: session.username,
      role,
      grants: userGrants(role, session.grants),
      via: 'session',
      sessionId,
      sessionStartedAt: session.createdAt,
    };
  }

  /**
   * A token with at most the creator's grants. Without `grants`, a token made from a session or an unrestricted
   * token acts with whatever its owner may do (now and after any change); one made by a restricted token gets that
   * token's grants. Asking for more than the caller has is 403, naming what is beyond it. A token made by an expiring
   * token expires with it at the latest.
   */
  async createToken(principal: Principal, request: TokenRequest): Promise<CreatedToken> {
    let grants: Grant[] | null = principal.tokenGrants ? [...principal.tokenGrants] : null;
    if (request.grants !== undefined) {
      grants = checkedGrants(request.grants);
      const beyond = grantsBeyond(grants, principal.grants);
      if (beyond.length > 0) {
        throw new DomainError(
          ErrorCode.FORBIDDEN,
          `a token cannot have more than its creator: you do not have ${beyond
            .map((g) => `${g.access} on ${JSON.stringify(g.prefix)}`)
            .join(', ')}`,
        );
      }
    }
    const now = new Date();
    const expiries = [
      ...(request.expiresIn !== undefined ? [now.getTime() + request.expiresIn * 1000] : []),
      ...(principal.tokenExpiresAt ? [Date.parse(principal.tokenExpiresAt)] : []),
    ];
    const expiresAt = expiries.length > 0 ? new Date(Math.min(...expiries)).toISOString() : undefined;
    const token = generateApiToken();
    const { id, createdAt } = await this.users.createToken(
      {
        userId: principal.userId,
        name: request.name,
        tokenHash: hashApiToken(token),
        grants,
        ...(expiresAt ? { expiresAt } : {}),
      },
      now,
    );
    return { id, name: request.name, token, grants, createdAt, ...(expiresAt ? { expiresAt } : {}) };
  }

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

  /** Counts the attempt, then checks the password; any failure is the same 401 (or 429 past the limit). */
  private async checkPassword(username: string, password: string, clientAddress: string) {
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
    return found;
  }

  private async fromToken(token: string): Promise<Principal | undefined> {
    if (!isApiTokenShaped(token)) return undefined;
    const hash = hashApiToken(token);
    // The cache only saves a query: while Redis fails over, the database answers (and is the truth anyway).
    const cached = await this.tokens.get(hash).catch(() => undefined);
    if (cached === 'revoked') return undefined;
    // An entry cached by a build before grants is not trusted: the database answers.
    let owner = cached && Array.isArray(cached.userGrants) ? cached : undefined;
    if (!owner) {
      owner = await this.users.findActiveToken(hash);
      if (!owner) return undefined;
      await this.tokens.fill(hash, owner).catch((err: unknown) => {
        this.logger.warn({ err }, 'token cache fill failed');
      });
    }
    if (owner.expiresAt !== undefined && Date.parse(owner.expiresAt) <= Date.now()) return undefined;
    this.touchToken(owner.tokenId);
    const held = userGrants(owner.role, owner.userGrants);
    return {
      userId: owner.userId,
      username: owner.username,
      role: owner.role,
      grants: owner.tokenGrants ? intersectGrants(held, owner.tokenGrants) : held,
      via: 'token',
      tokenId: owner.tokenId,
      tokenGrants: owner.tokenGrants,
      ...(owner.expiresAt ? { tokenExpiresAt: owner.expiresAt } : {}),
    };
  }

  /** "Last used", to the minute, off the request's path: a failure to record it is only logged. */
  private touchToken(tokenId: string): void {
    const now = Date.now();
    if (now - (this.tokenTouched.get(tokenId) ?? 0) < TOKEN_TOUCH_INTERVAL_MS) return;
    if (this.tokenTouched.size >= 10_000) this.tokenTouched.clear();
    this.tokenTouched.set(tokenId, now);
    this.users.touchToken(tokenId, new Date(now)).catch((err: unknown) => {
      this.logger.warn({ err }, 'could not record a token use');
    });
  }
}
