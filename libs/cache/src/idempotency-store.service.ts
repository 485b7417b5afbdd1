import type { Cluster } from 'ioredis';

export interface IdempotencyRecord {
  /** Hash of the request the key was first used for. */
  fingerprint: string;
  operationId: string;
  /**
   * When the first attempt was made; a repeat that re-sends the operation reuses it, so every copy of the
   * message is identical. Absent in records written before it was added.
   */
  acceptedAt?: string;
}

export interface IdempotencyStoreOptions {
  /** How long a client's key is kept: the window in which a retry with it is safe. */
  ttlSeconds?: number;
  /** How long a key the gateway made up for a request sent without one (`gw-<request id>`) is kept. */
  gatewayKeyTtlSeconds?: number;
}

/** The gateway gives every PUT/DELETE sent without a key one of its own: `gw-` and its request id. */
export const GATEWAY_KEY_PREFIX = 'gw-';

/**
 * `Idempotency-Key` records: the first request with a key claims it for its operation; a repeat of the same
 * request finds the original operation; a different request under the same key is refused. Claims are
 * atomic (`SET NX GET`), so two concurrent requests cannot both claim the key for different operations.
 *
 * A claim is never given back. Once the API has tried to publish the operation, the broker may hold it even
 * when the confirm never came (a timeout, a dropped connection, an API that died), so the key must keep
 * pointing at that operation id for as long as the record lives: a retry then re-sends the same id, which the
 * worker applies at most once, instead of a new operation that would be applied a second time. Whether the
 * operation was confirmed is not stored here; the operation tracker knows (see `OperationTracker`).
 *
 * How long a key is kept (`ttlSeconds`, 24 h) is the window in which a client may safely retry with it: a retry
 * after the record expired is a new request and is applied again. It must stay shorter than the worker's
 * operation retention (7 days), which is what stops a re-sent operation id from being applied twice.
 * Memory is bounded by it: one record (about 250 bytes with its key) per keyed write for 24 h. Since the
 * gateway gives every write without a key one of its own, that would be every write: its keys (`gw-…`) are
 * kept 10 minutes instead, enough for its own retry on another API and for a client that repeats a write
 * after a gateway 502/504 under that key, as the 502/504 says. Records are never
 * evicted (Redis runs with `maxmemory-policy noeviction`, so a claim is never dropped silently): when Redis is
 * full, `claim` fails and the API answers 503 with Retry-After, which is safe, as nothing was published.
 */
export class IdempotencyStore {
  private readonly ttlSeconds: number;
  private readonly gatewayKeyTtlSeconds: number;

  constructor(
    private readonly redis: Cluster,
    options: IdempotencyStoreOptions = {},
    private readonly prefix = 'idem:',
  ) {
    this.ttlSeconds = options.ttlSeconds ?? 86_400;
    this.gatewayKeyTtlSeconds = options.gatewayKeyTtlSeconds ?? 600;
  }

  /**
   * Claims `key` for `record` within `scope` (the user who sent it: keys are per user, so one user can neither find
   * nor squat another's); returns the existing record when the key was already claimed in that scope.
   */
  async claim(key: string, record: IdempotencyRecord, scope = ''): Promise<IdempotencyRecord | undefined> {
    const ttl = key.startsWith(GATEWAY_KEY_PREFIX) ? this.gatewayKeyTtlSeconds : this.ttlSeconds;
    const name = scope === '' ? this.prefix + key : `${this.prefix}${scope}:${key}`;
    const previous = await this.redis.set(name, JSON.stringify(record), 'EX', ttl, 'NX', 'GET');
    return previous ? (JSON.parse(previous) as IdempotencyRecord) : undefined;
  }
}
