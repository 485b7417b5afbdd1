import type { Cluster } from 'ioredis';

const MEMBERS_KEY = 'keyflow:workers';

/**
 * Which workers are alive, as seen through Redis: each worker refreshes its own score (a timestamp) every
 * `heartbeatMs`; members not seen for `expiryMs` are gone. Used only to balance shards. Correctness never
 * depends on it: RabbitMQ's single-active-consumer already guarantees one applier per shard.
 */
export class WorkerMembership {
  private members: string[] = [];

  constructor(
    private readonly redis: Cluster,
    private readonly self: string,
    private readonly expiryMs = 5_000,
  ) {}

  /** Refreshes this worker's heartbeat and returns the sorted live members (the last known ones if Redis fails). */
  async heartbeat(now = Date.now()): Promise<string[]> {
    try {
      await this.redis.zadd(MEMBERS_KEY, now, this.self);
      await this.redis.zremrangebyscore(MEMBERS_KEY, '-inf', now - this.expiryMs);
      const live = await this.redis.zrangebyscore(MEMBERS_KEY, now - this.expiryMs, '+inf');
      this.members = [...new Set([...live, this.self])].sort();
    } catch {
      if (this.members.length === 0) this.members = [this.self];
    }
    return this.members;
  }

  async leave(): Promise<void> {
    await this.redis.zrem(MEMBERS_KEY, this.self).catch(() => undefined);
  }
}

/** The shards a worker should own when `members` (sorted) are alive: an even split by index. */
export function homeShards(self: string, members: string[], shards: number): Set<number> {
  const index = Math.max(0, members.indexOf(self));
  const count = Math.max(1, members.length);
  const home = new Set<number>();
  for (let shard = 0; shard < shards; shard++) if (shard % count === index) home.add(shard);
  return home;
}
