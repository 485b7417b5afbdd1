import type { Cluster } from 'ioredis';

/**
 * What the cache holds for a key:
 * - `present`: the value (JSON text) at `version`;
 * - `deleted`: a tombstone at `version`, kept for a short time after a delete;
 * - `missing`: the key has never existed (version 0), cached negatively for a few seconds.
 */
export type CachedEntry =
  | { state: 'present'; version: number; valueJson: string; updatedAt: string }
  | { state: 'deleted'; version: number; updatedAt: string }
  | { state: 'missing'; version: 0 };

export interface KvCacheOptions {
  /** How long a present value stays cached. */
  valueTtlMs?: number;
  /** How long a delete's tombstone stays. */
  tombstoneTtlMs?: number;
  /** How long an unknown key is cached as missing. */
  negativeTtlMs?: number;
}

const STATE_CODE = { present: 'p', deleted: 'd', missing: 'm' } as const;

/**
 * Sets the entry only when its version is newer than the cached one, atomically. This is what keeps the cache
 * from going backwards when a slow read-through fill (an old version read from a replica) races a worker's
 * update (a newer version): whichever arrives second with an older version is dropped.
 * KEYS[1] = cache key; ARGV = version, state, json, updatedAt, ttlMs. Returns 1 when set, 0 when older.
 */
const SET_IF_NEWER = `
local current = redis.call('HGET', KEYS[1], 'v')
if current and tonumber(current) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 's', ARGV[2], 'j', ARGV[3], 'u', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`;

interface ClusterWithScript extends Cluster {
  kvSetIfNewer(
    key: string,
    version: string,
    state: string,
    json: string,
    updatedAt: string,
    ttlMs: string,
  ): Promise<number>;
}

export class KvCache {
  private readonly redis: ClusterWithScript;
  private readonly valueTtlMs: number;
  private readonly tombstoneTtlMs: number;
  private readonly negativeTtlMs: number;

  constructor(
    redis: Cluster,
    options: KvCacheOptions = {},
    private readonly prefix = 'kv:',
  ) {
    redis.defineCommand('kvSetIfNewer', { numberOfKeys: 1, lua: SET_IF_NEWER });
    this.redis = redis as ClusterWithScript;
    this.valueTtlMs = options.valueTtlMs ?? 3_600_000;
    this.tombstoneTtlMs = options.tombstoneTtlMs ?? 60_000;
    this.negativeTtlMs = options.negativeTtlMs ?? 5_000;
  }

  cacheKey(key: string): string {
    return this.prefix + key;
  }

  async get(key: string): Promise<CachedEntry | undefined> {
    const hash = await this.redis.hgetall(this.cacheKey(key));
    const version = Number(hash.v);
    switch (hash.s) {
      case STATE_CODE.present:
        return { state: 'present', version, valueJson: hash.j ?? 'null', updatedAt: hash.u ?? '' };
      case STATE_CODE.deleted:
        return { state: 'deleted', version, updatedAt: hash.u ?? '' };
      case STATE_CODE.missing:
        return { state: 'missing', version: 0 };
      default:
        return undefined;
    }
  }

  /** Version-guarded set; returns whether the cache took it. */
  async setIfNewer(key: string, entry: CachedEntry): Promise<boolean> {
    let json = '';
    let updatedAt = '';
    let ttl = this.negativeTtlMs;
    if (entry.state === 'present') {
      json = entry.valueJson;
      updatedAt = entry.updatedAt;
      ttl = this.valueTtlMs;
    } else if (entry.state === 'deleted') {
      updatedAt = entry.updatedAt;
      ttl = this.tombstoneTtlMs;
    }
    const set = await this.redis.kvSetIfNewer(
      this.cacheKey(key),
      String(entry.version),
      STATE_CODE[entry.state],
      json,
      updatedAt,
      String(ttl),
    );
    return set === 1;
  }
}
