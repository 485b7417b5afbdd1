import type { Cluster } from 'ioredis';

export interface TokenCacheOptions {
  /** How long a looked-up token's owner is remembered in Redis. */
  ttlMs?: number;
  /** How long a revocation marker outlives the revocation; longer than any lookup can take. */
  revokedTtlMs?: number;
  prefix?: string;
  /**
   * How long an instance trusts an owner it read from Redis without asking again. The bound on how long a revoked
   * token may still be accepted by an instance that missed the revocation's message; 0 turns the local cache off.
   */
  localTtlMs?: number;
  /** Most owners remembered in-process; the oldest go first. */
  localMaxEntries?: number;
  /** The pub/sub channel revocations are announced on. */
  channel?: string;
  /** How long an invalidated entry refuses fills (see `invalidate`). */
  staleTtlMs?: number;
}

const REVOKED = 'revoked';
/** Written over an entry whose owner changed: lookups go to the database, and nothing may be filled meanwhile. */
const STALE = 'stale';

/**
 * The owners of API tokens, cached by token hash so that a request costs neither a database query nor, mostly, a
 * Redis round trip. Two levels:
 * - **Redis**, shared by every instance: the database stays the truth; `revoke` overwrites the entry with a marker
 *   and `fill` only ever adds (SET NX), so a lookup that read the token as active just before it was revoked
 *   cannot put it back.
 * - **In-process**, per instance: an owner read from Redis is trusted for `localTtlMs` (0.9 s). `revoke` announces
 *   the revocation on a Redis pub/sub channel, and every instance drops the token at once. The announcement is best
 *   effort (a subscriber reconnecting during a Redis failover misses it), so the local time to live is what bounds
 *   how long a revoked token can still be accepted: under a second, on every instance, whatever Redis does. An owner
 *   read while an announcement arrived is not kept (a generation count), so a lookup racing a revocation cannot
 *   outlive it either.
 */
export class TokenCache<T> {
  private readonly ttlMs: number;
  private readonly revokedTtlMs: number;
  private readonly prefix: string;
  private readonly localTtlMs: number;
  private readonly localMaxEntries: number;
  private readonly channel: string;
  private readonly staleTtlMs: number;
  private readonly local = new Map<string, { owner: T; until: number }>();
  private generation = 0;
  private subscriber?: Cluster;

  constructor(
    private readonly redis: Cluster,
    options: TokenCacheOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 5 * 60_000;
    this.revokedTtlMs = options.revokedTtlMs ?? 60 * 60_000;
    this.prefix = options.prefix ?? 'token:';
    this.localTtlMs = options.localTtlMs ?? 900;
    this.localMaxEntries = options.localMaxEntries ?? 10_000;
    this.channel = options.channel ?? `${this.prefix}revoked`;
    this.staleTtlMs = options.staleTtlMs ?? 5_000;
  }

  /**
   * Subscribes to revocation announcements. Until this is called (and after `close`) nothing is kept in-process
   * beyond `localTtlMs` anyway; with it, a revocation reaches every instance within milliseconds.
   */
  async listen(): Promise<void> {
    if (this.subscriber || this.localTtlMs === 0) return;
    const subscriber = this.redis.duplicate();
    this.subscriber = subscriber;
    subscriber.on('message', (_channel: string, tokenHash: string) => this.forget(tokenHash));
    // A subscriber that lost its connection may have missed announcements: start afresh.
    subscriber.on('+node', () => this.forgetAll());
    subscriber.on('-node', () => this.forgetAll());
    subscriber.on('error', () => this.forgetAll());
    await subscriber.subscribe(this.channel);
  }

  /** The cached owner, `'revoked'`, or `undefined` when the cache does not know the token. */
  async get(tokenHash: string, now = Date.now()): Promise<T | typeof REVOKED | undefined> {
    const known = this.local.get(tokenHash);
    if (known && known.until > now) return known.owner;
    if (known) this.local.delete(tokenHash);
    const generation = this.generation;
    const raw = await this.redis.get(this.prefix + tokenHash);
    if (raw === null || raw === STALE) return undefined;
    if (raw === REVOKED) return REVOKED;
    const owner = JSON.parse(raw) as T;
    if (this.localTtlMs > 0 && generation === this.generation) this.remember(tokenHash, owner, now);
    return owner;
  }

  async fill(tokenHash: string, owner: T): Promise<void> {
    await this.redis.set(this.prefix + tokenHash, JSON.stringify(owner), 'PX', this.ttlMs, 'NX');
  }

  /** Marks the token revoked for every instance, then announces it so that they drop their own copies at once. */
  async revoke(tokenHash: string): Promise<void> {
    this.forget(tokenHash);
    await this.redis.set(this.prefix + tokenHash, REVOKED, 'PX', this.revokedTtlMs);
    await this.redis.publish(this.channel, tokenHash);
  }

  /**
   * The token's owner changed (grants, disabled): every instance must look it up again. The entry becomes a short
   * marker rather than disappearing, because `fill` only adds (NX): a lookup that read the database before the change
   * and fills after this cannot put the old owner back while the marker lives (`staleTtlMs`, longer than a lookup).
   */
  async invalidate(tokenHash: string): Promise<void> {
    this.forget(tokenHash);
    await this.redis.set(this.prefix + tokenHash, STALE, 'PX', this.staleTtlMs);
    await this.redis.publish(this.channel, tokenHash);
  }

  async close(): Promise<void> {
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    this.forgetAll();
    if (subscriber) await subscriber.quit().catch(() => subscriber.disconnect());
  }

  private remember(tokenHash: string, owner: T, now: number): void {
    if (this.local.size >= this.localMaxEntries) {
      const oldest = this.local.keys().next();
      if (!oldest.done) this.local.delete(oldest.value);
    }
    this.local.set(tokenHash, { owner, until: now + this.localTtlMs });
  }

  private forget(tokenHash: string): void {
    this.generation += 1;
    this.local.delete(tokenHash);
  }

  private forgetAll(): void {
    this.generation += 1;
    this.local.clear();
  }
}
