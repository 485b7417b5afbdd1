import type { Cluster } from 'ioredis';

export interface IdempotencyRecord {
  /** Hash of the request the key was first used for. */
  fingerprint: string;
  operationId: string;
}

/**
 * `Idempotency-Key` records: the first request with a key claims it for its operation; a repeat of the same
 * request finds the original operation; a different request under the same key is refused. Claims are
 * atomic (`SET NX GET`), so two concurrent repeats cannot both publish.
 */
export class IdempotencyStore {
  constructor(
    private readonly redis: Cluster,
    private readonly ttlSeconds = 86_400,
    private readonly prefix = 'idem:',
  ) {}

  /** Claims `key` for `record`; returns the existing record when the key was already claimed. */
  async claim(key: string, record: IdempotencyRecord): Promise<IdempotencyRecord | undefined> {
    const previous = await this.redis.set(
      this.prefix + key,
      JSON.stringify(record),
      'EX',
      this.ttlSeconds,
      'NX',
      'GET',
    );
    return previous ? (JSON.parse(previous) as IdempotencyRecord) : undefined;
  }

  /** Gives a claim back, when the write it was for was not accepted, so the client can retry. */
  async release(key: string, operationId: string): Promise<void> {
    const current = await this.redis.get(this.prefix + key);
    if (current && (JSON.parse(current) as IdempotencyRecord).operationId === operationId) {
      await this.redis.del(this.prefix + key);
    }
  }
}
