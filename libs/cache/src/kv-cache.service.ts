import calculateSlot from 'cluster-key-slot';
import type { Cluster } from 'ioredis';

/**
 * What the cache holds for a key:
 * - `present`: the value (JSON text) at `version`, and when it expires if it was written with a time to live
 *   (`expiresAt`, ISO: readers treat it as absent from then on, until the expiry delete replaces it);
 * - `deleted`: a tombstone at `version`, kept for a short time after a delete;
 * - `missing`: the key has never existed (version 0), cached negatively for a few seconds.
 */
export type CachedEntry =
  | { state: 'present'; version: number; valueJson: string; updatedAt: string; expiresAt?: string }
  | { state: 'deleted'; version: number; updatedAt: string }
  | { state: 'missing'; version: 0 };

/** A key's state as a worker committed it to the database (the primary): what `commit` caches. */
export interface CommittedEntry {
  key: string;
  entry: Exclude<CachedEntry, { state: 'missing' }>;
}

export interface KvCacheOptions {
  /** How long a value a worker committed stays cached. */
  valueTtlMs?: number;
  /** How long a value read through from the database (possibly a replica) stays cached. */
  fillTtlMs?: number;
  /** How long a delete's tombstone stays. */
  tombstoneTtlMs?: number;
  /** How long an unknown key is cached as missing. */
  negativeTtlMs?: number;
  /** How long a key's floor (the newest version a worker committed) is remembered after its last commit. */
  floorTtlMs?: number;
  /** How long `commit` waits for a Redis replica to acknowledge its writes (`WAIT`), per master. */
  replicaAckTimeoutMs?: number;
}

/**
 * What a fill did: `filled`; `kept` (the cache holds this version or a newer one); `below-floor` (a worker
 * committed a newer version: what was read, from a replica, is behind, and should not be served either).
 */
export type FillResult = 'filled' | 'kept' | 'below-floor';

export interface CommitResult {
  /** Keys whose committed state could not be cached because Redis is out of memory; their entry was removed. */
  outOfMemory: string[];
}

/**
 * A cache update that a Redis failover could still lose: the master has a connected replica that did not
 * acknowledge it in time, or the node stopped being the master. Retrying the commit is safe (it is idempotent).
 */
export class CacheReplicationError extends Error {
  constructor(
    readonly node: string,
    message: string,
  ) {
    super(message);
    this.name = 'CacheReplicationError';
  }
}

const STATE_CODE = { present: 'p', deleted: 'd', missing: 'm' } as const;

/**
 * A read-through fill. Sets the entry only when it is not older than the key's floor (the newest version a
 * worker committed) and newer than the cached entry. The floor outlives the value and the tombstone, so a fill
 * that read a lagging replica after the tombstone of a delete (or the value of a newer write) expired cannot
 * bring the old version back. Fills never raise the floor: only committed versions do.
 * KEYS[1] = entry hash, KEYS[2] = floor; ARGV = version, state, json, updatedAt, ttlMs, expiresAt ('' for none).
 * Returns 1 when set, 0 when the cache holds this version or a newer one, -1 when below the floor.
 */
const FILL = `
local version = tonumber(ARGV[1])
local floor = tonumber(redis.call('GET', KEYS[2]) or '0')
if version < floor then
  return -1
end
local current = redis.call('HGET', KEYS[1], 'v')
if current and tonumber(current) >= version then
  return 0
end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 's', ARGV[2], 'j', ARGV[3], 'u', ARGV[4], 'x', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`;

/**
 * A worker's update after its database commit. Raises the floor and sets the entry unless a newer version is
 * known. It always writes something (at least the floor), so the replication offset the caller then waits for
 * (WAIT) covers this version even when another client cached it first. When Redis is out of memory
 * (maxmemory with noeviction) the new version cannot be cached, and an older one must not stay: the entry is
 * deleted instead (DEL is allowed when out of memory).
 * KEYS[1] = entry hash, KEYS[2] = floor; ARGV = version, state, json, updatedAt, ttlMs, floorTtlMs, expiresAt
 * ('' for none).
 * Returns 1 when the entry holds this version, 0 when a newer version is known, -1 when out of memory.
 */
const COMMIT = `
local version = tonumber(ARGV[1])
local floor = tonumber(redis.call('GET', KEYS[2]) or '0')
if version < floor then
  return 0
end
local raised = redis.pcall('SET', KEYS[2], ARGV[1], 'PX', ARGV[6])
if type(raised) == 'table' and raised.err then
  redis.call('DEL', KEYS[1])
  return -1
end
local current = tonumber(redis.call('HGET', KEYS[1], 'v') or '-1')
if current > version then
  return 0
end
if current == version then
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return 1
end
local set = redis.pcall('HSET', KEYS[1], 'v', ARGV[1], 's', ARGV[2], 'j', ARGV[3], 'u', ARGV[4], 'x', ARGV[7])
if type(set) == 'table' and set.err then
  redis.call('DEL', KEYS[1])
  return -1
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`;

/** A script's `expiresAt` argument: '' for an entry that never expires (the field is always written, so cleared too). */
function expiresAtArg(entry: CachedEntry): string {
  return entry.state === 'present' ? (entry.expiresAt ?? '') : '';
}

type ScriptArgs = [entryKey: string, floorKey: string, version: string, state: string, json: string, updatedAt: string];

interface ScriptCommands<R> {
  kvFill(...args: [...ScriptArgs, ttlMs: string, expiresAt: string]): R;
  kvCommit(...args: [...ScriptArgs, ttlMs: string, floorTtlMs: string, expiresAt: string]): R;
}

type ClusterWithScripts = Cluster & ScriptCommands<Promise<number>>;

/**
 * The read cache. Each key has an entry hash (`<prefix>{@<key>}`: version, state, JSON, updatedAt) and a floor
 * (`<prefix>floor:{@<key>}`: the newest version a worker committed). Both share the hash tag, so one script sees
 * both on one node; the `@` keeps the tag non-empty whatever the key starts with.
 *
 * How the cache is kept from going backwards:
 * - Versions only rise: a script sets an entry only when it is newer than the cached one (a slow fill loses
 *   to a worker's newer update).
 * - Fills (read-through, from a replica that may lag) are refused below the floor, and cached briefly
 *   (`fillTtlMs`): whatever slips past the floor (a replica lagging by more than `floorTtlMs`, a floor that
 *   could not be written) is stale for minutes, not an hour.
 * - Worker commits are acknowledged by a Redis replica (`WAIT`) before `commit` resolves, so the worker acks
 *   its batch only once a master failover can no longer lose the update (see `commit`).
 */
export class KvCache {
  private readonly redis: ClusterWithScripts;
  private readonly valueTtlMs: number;
  private readonly fillTtlMs: number;
  private readonly tombstoneTtlMs: number;
  private readonly negativeTtlMs: number;
  private readonly floorTtlMs: number;
  private readonly replicaAckTimeoutMs: number;
  /** Connected replicas each master had at the last commit: a master known to have none is not waited for. */
  private readonly replicasByNode = new Map<string, number>();

  constructor(
    redis: Cluster,
    options: KvCacheOptions = {},
    private readonly prefix = 'kv:',
  ) {
    redis.defineCommand('kvFill', { numberOfKeys: 2, lua: FILL });
    redis.defineCommand('kvCommit', { numberOfKeys: 2, lua: COMMIT });
    this.redis = redis as ClusterWithScripts;
    this.valueTtlMs = options.valueTtlMs ?? 3_600_000;
    this.fillTtlMs = options.fillTtlMs ?? 300_000;
    this.tombstoneTtlMs = options.tombstoneTtlMs ?? 60_000;
    this.negativeTtlMs = options.negativeTtlMs ?? 5_000;
    // Longer than a committed value lives, so a value that expires is still guarded for another hour of lag.
    this.floorTtlMs = options.floorTtlMs ?? Math.max(this.valueTtlMs, this.tombstoneTtlMs) + 3_600_000;
    this.replicaAckTimeoutMs = options.replicaAckTimeoutMs ?? 500;
  }

  cacheKey(key: string): string {
    return `${this.prefix}{@${key}}`;
  }

  floorKey(key: string): string {
    return `${this.prefix}floor:{@${key}}`;
  }

  async get(key: string): Promise<CachedEntry | undefined> {
    const hash = await this.redis.hgetall(this.cacheKey(key));
    const version = Number(hash.v);
    switch (hash.s) {
      case STATE_CODE.present:
        return {
          state: 'present',
          version,
          valueJson: hash.j ?? 'null',
          updatedAt: hash.u ?? '',
          ...(hash.x ? { expiresAt: hash.x } : {}),
        };
      case STATE_CODE.deleted:
        return { state: 'deleted', version, updatedAt: hash.u ?? '' };
      case STATE_CODE.missing:
        return { state: 'missing', version: 0 };
      default:
        return undefined;
    }
  }

  /**
   * Read-through fill with what the database (a replica, possibly lagging) returned. The cache takes it unless
   * it holds this version or a newer one (`kept`) or a worker committed a newer version (`below-floor`).
   */
  async fill(key: string, entry: CachedEntry): Promise<FillResult> {
    const ttl =
      entry.state === 'present' ? this.fillTtlMs : entry.state === 'deleted' ? this.tombstoneTtlMs : this.negativeTtlMs;
    const set = await this.redis.kvFill(...this.scriptArgs(key, entry), String(ttl), expiresAtArg(entry));
    return set === 1 ? 'filled' : set === -1 ? 'below-floor' : 'kept';
  }

  /**
   * Caches what workers committed, and resolves once a Redis replica of every master involved acknowledged it
   * (WAIT), so a master failover cannot lose an update the worker then acks. Keys are grouped by master; each
   * group is one pipeline of scripts, `WAIT 1 <replicaAckTimeoutMs>` and `ROLE`, on that master's connection,
   * so the WAIT covers the scripts before it. Per master:
   * - a replica acknowledged: done;
   * - the master has no connected replica (its replica is down or restarting): done. A replica that comes
   *   back resynchronises from this master before it can be promoted; the remaining risk, a replica cut off
   *   but still eligible for promotion, is accepted (a master known to have no replica is not waited for);
   * - a connected replica did not acknowledge in time, or the node is no longer a master: `CacheReplicationError`.
   * Anything else (a node down, a redirection) rejects too. Every rejection is safe to retry: the worker retries
   * the whole commit, and the scripts are idempotent.
   */
  async commit(entries: CommittedEntry[]): Promise<CommitResult> {
    // Until the client has connected it knows no slots: connect first, so keys are grouped by master.
    if (this.redis.slots.length === 0) await this.redis.ping();
    const groups = new Map<string, CommittedEntry[]>();
    entries.forEach((committed, i) => {
      // A key whose master is not known yet gets a pipeline of its own (ioredis routes it once it knows).
      const node = this.redis.slots[calculateSlot(this.cacheKey(committed.key))]?.[0] ?? `unknown-${i}`;
      groups.set(node, [...(groups.get(node) ?? []), committed]);
    });
    const outOfMemory = await Promise.all([...groups].map(([node, group]) => this.commitOnNode(node, group)));
    return { outOfMemory: outOfMemory.flat() };
  }

  private async commitOnNode(node: string, group: CommittedEntry[]): Promise<string[]> {
    const knownReplicas = this.replicasByNode.get(node) ?? 1;
    const pipeline = this.redis.pipeline() as ReturnType<Cluster['pipeline']> & ScriptCommands<unknown>;
    for (const { key, entry } of group) {
      const ttl = entry.state === 'present' ? this.valueTtlMs : this.tombstoneTtlMs;
      pipeline.kvCommit(...this.scriptArgs(key, entry), String(ttl), String(this.floorTtlMs), expiresAtArg(entry));
    }
    pipeline.wait(Math.min(knownReplicas, 1), this.replicaAckTimeoutMs);
    pipeline.role();
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([err]) => err)?.[0];
    if (failed) {
      if (/^(MOVED|ASK|CLUSTERDOWN)\b/.test(failed.message)) this.redis.refreshSlotsCache();
      throw failed;
    }
    const outOfMemory = group.filter((_, i) => results[i]?.[1] === -1).map(({ key }) => key);
    const acked = Number(results[group.length]?.[1] ?? 0);
    const role = results[group.length + 1]?.[1];
    if (!Array.isArray(role) || role[0] !== 'master') {
      throw new CacheReplicationError(node, `redis ${node} is no longer a master; the cache update is retried`);
    }
    const connected = Array.isArray(role[2]) ? role[2].length : 0;
    this.replicasByNode.set(node, connected);
    if (acked >= 1 || connected === 0) return outOfMemory;
    throw new CacheReplicationError(
      node,
      knownReplicas === 0
        ? `redis ${node} has a replica again; the cache update is retried until it acknowledges`
        : `no replica of redis ${node} acknowledged the cache update within ${this.replicaAckTimeoutMs} ms`,
    );
  }

  private scriptArgs(key: string, entry: CachedEntry): ScriptArgs {
    const json = entry.state === 'present' ? entry.valueJson : '';
    const updatedAt = entry.state === 'missing' ? '' : entry.updatedAt;
    return [this.cacheKey(key), this.floorKey(key), String(entry.version), STATE_CODE[entry.state], json, updatedAt];
  }
}
