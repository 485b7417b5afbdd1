import { randomUUID } from 'node:crypto';
import type { Cluster } from 'ioredis';

const MEMBERS_KEY = 'keyflow:workers';

/** A member id is `<instance name>@<incarnation>`; this is the instance name. */
export function memberName(id: string): string {
  const at = id.lastIndexOf('@');
  return at < 0 ? id : id.slice(0, at);
}

/**
 * Which workers are alive, as seen through Redis: each worker refreshes its own score (a timestamp) every
 * tick; members not seen for `expiryMs` are gone. Used only to balance shards. Correctness never depends on
 * it: RabbitMQ's single-active-consumer already guarantees one applier per shard.
 *
 * Each process joins under a fresh incarnation (`worker-2@3f9c…`), so a worker killed and restarted within
 * `expiryMs` still shows up as a change: the others then hand its home shards back to it. (Under its name
 * alone it would look as if nothing happened, and its shards would stay with whoever took them over.) Only
 * the newest incarnation of a name counts.
 */
export class WorkerMembership {
  private members: string[] = [];
  readonly id: string;

  constructor(
    private readonly redis: Cluster,
    self: string,
    private readonly expiryMs = 5_000,
  ) {
    this.id = `${self}@${randomUUID().slice(0, 8)}`;
  }

  /**
   * Refreshes this worker's heartbeat and returns the live member ids, sorted by name, one per name (the
   * last known ones if Redis fails).
   */
  async heartbeat(now = Date.now()): Promise<string[]> {
    try {
      await this.redis.zadd(MEMBERS_KEY, now, this.id);
      await this.redis.zremrangebyscore(MEMBERS_KEY, '-inf', now - this.expiryMs);
      const flat = await this.redis.zrangebyscore(MEMBERS_KEY, now - this.expiryMs, '+inf', 'WITHSCORES');
      this.members = newestPerName([...pairs(flat), [this.id, now]]);
    } catch {
      if (this.members.length === 0) this.members = [this.id];
    }
    return this.members;
  }

  async leave(): Promise<void> {
    await this.redis.zrem(MEMBERS_KEY, this.id).catch(() => undefined);
  }
}

function pairs(flat: string[]): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i], Number(flat[i + 1])]);
  return out;
}

/** One id per instance name, the one with the latest heartbeat; sorted by name. */
export function newestPerName(members: Array<[id: string, seenAt: number]>): string[] {
  const newest = new Map<string, [string, number]>();
  for (const [id, seenAt] of members) {
    const name = memberName(id);
    const known = newest.get(name);
    if (!known || seenAt > known[1] || (seenAt === known[1] && id > known[0])) newest.set(name, [id, seenAt]);
  }
  return [...newest.keys()].sort().map((name) => (newest.get(name) as [string, number])[0]);
}

/** The shards a worker should own when `members` (sorted) are alive: an even split by index. */
export function homeShards(self: string, members: string[], shards: number): Set<number> {
  const index = Math.max(0, members.indexOf(self));
  const count = Math.max(1, members.length);
  const home = new Set<number>();
  for (let shard = 0; shard < shards; shard++) if (shard % count === index) home.add(shard);
  return home;
}
