import type { Cluster } from 'ioredis';

export interface TokenCacheOptions {
  /** How long a looked-up token's owner is remembered. */
  ttlMs?: number;
  /** How long a revocation marker outlives the revocation; longer than any lookup can take. */
  revokedTtlMs?: number;
  prefix?: string;
}

const REVOKED = 'revoked';

/**
 * The owners of API tokens, cached in the Redis cluster by token hash so that a request does not cost a
 * database query. The database stays the truth; what makes revocation immediate on every instance is that
 * `revoke` overwrites the entry with a marker and `fill` only ever adds (SET NX): a lookup that read the
 * token as active just before it was revoked cannot put it back.
 */
export class TokenCache<T> {
  private readonly ttlMs: number;
  private readonly revokedTtlMs: number;
  private readonly prefix: string;

  constructor(
    private readonly redis: Cluster,
    options: TokenCacheOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 5 * 60_000;
    this.revokedTtlMs = options.revokedTtlMs ?? 60 * 60_000;
    this.prefix = options.prefix ?? 'token:';
  }

  /** The cached owner, `'revoked'`, or `undefined` when the cache does not know the token. */
  async get(tokenHash: string): Promise<T | typeof REVOKED | undefined> {
    const raw = await this.redis.get(this.prefix + tokenHash);
    if (raw === null) return undefined;
    return raw === REVOKED ? REVOKED : (JSON.parse(raw) as T);
  }

  async fill(tokenHash: string, owner: T): Promise<void> {
    await this.redis.set(this.prefix + tokenHash, JSON.stringify(owner), 'PX', this.ttlMs, 'NX');
  }

  async revoke(tokenHash: string): Promise<void> {
    await this.redis.set(this.prefix + tokenHash, REVOKED, 'PX', this.revokedTtlMs);
  }
}
