import type { Cluster } from 'ioredis';

/** Kept well beyond any backlog; a count only matters while its write is still waiting to be applied. */
const TTL_SECONDS = 24 * 3600;
/** Counts in memory at most; the oldest are dropped first (Redis still has them). */
const MAX_IN_MEMORY = 10_000;

export function failedAttemptsKey(operationId: string): string {
  return `keyflow:apply-failures:${operationId}`;
}

/**
 * How many times applying each write was attempted and failed — by any worker, across restarts.
 *
 * Only an attempt that ran and failed is recorded, by the code that saw it fail. A delivery that returned to its
 * queue because a worker restarted, handed its shard over or lost its connection was not failed by anyone, and
 * never counts, however often it happens (that is why the shard queues have no `x-delivery-limit`).
 *
 * The count is kept in memory and in Redis (`keyflow:apply-failures:<operation id>`, 24 h), so that it survives the
 * restart of the worker and the move of its shard to another one. Redis is best effort: when it cannot be reached,
 * the count in memory decides (a restart then starts that write's count again, which only delays its dead letter).
 */
export class FailedAttempts {
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly redis: Pick<Cluster, 'incr' | 'expire' | 'del'>,
    private readonly onRedisError: (err: Error) => void,
  ) {}

  /** Records one failed attempt of `operationId`; resolves with the attempts failed so far, this one included. */
  async record(operationId: string): Promise<number> {
    const inMemory = (this.counts.get(operationId) ?? 0) + 1;
    const key = failedAttemptsKey(operationId);
    const stored = await this.redis
      .incr(key)
      .then(async (n) => {
        await this.redis.expire(key, TTL_SECONDS);
        return n;
      })
      .catch((err: Error) => {
        this.onRedisError(err);
        return 0;
      });
    const count = Math.max(inMemory, stored);
    this.counts.delete(operationId);
    this.counts.set(operationId, count);
    if (this.counts.size > MAX_IN_MEMORY) this.counts.delete(this.counts.keys().next().value as string);
    return count;
  }

  /**
   * Forgets the counts of writes that were settled (applied, or dead-lettered: an operator's replay of a dead letter
   * starts from zero). Only writes that failed before have a count to forget; the others cost nothing.
   */
  forget(operationIds: readonly string[]): void {
    const known = operationIds.filter((id) => this.counts.delete(id));
    if (known.length === 0) return;
    // One key per command: keys of different operations live in different cluster slots.
    for (const id of known) this.redis.del(failedAttemptsKey(id)).catch((err: Error) => this.onRedisError(err));
  }
}
