import { randomBytes } from 'node:crypto';
import type { Cluster } from 'ioredis';

/** Who a session belongs to, and the key-prefix grants it acts with (kept current by `updateGrants`). */
export interface SessionUser {
  userId: string;
  username: string;
  role: string;
  grants: Array<{ prefix: string; access: 'read' | 'write' }>;
}

export interface SessionData extends SessionUser {
  /** Epoch ms; the absolute limit counts from here. */
  createdAt: number;
}

export interface SessionStoreOptions {
  /** A session unused for this long is gone. */
  idleTtlMs?: number;
  /** A session older than this is gone however active it is. */
  absoluteTtlMs?: number;
  prefix?: string;
}

const isSessionId = (id: string): boolean => /^[A-Za-z0-9_-]{43}$/.test(id);

/**
 * Lua: adds a session id to its user's index and keeps the index alive as long as its newest session may live. One
 * index key per user (its own slot), so this is one round trip.
 */
const INDEX_SESSION = `
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`;

/**
 * Sessions in the Redis cluster, so every API instance accepts every session without sticky routing.
 * Ids are 256 random bits (base64url). Each session is one key whose TTL is the idle timeout, pushed forward on
 * every use by the same command that reads it (GETEX: one round trip per request); the absolute limit is
 * checked against `createdAt` on each read.
 *
 * Each user's session ids are also kept in a set (`<prefix>user:<userId>`), so that all of a user's sessions can be
 * ended at once (account disabled, password changed) or given new grants. Nothing caches a session outside Redis, so
 * once `destroyAllOf` returned, no instance accepts them. The set may name sessions that already expired; they are
 * skipped (and dropped from it) when it is walked. A session without grants was made before grants existed and is
 * not accepted: its user logs in again.
 */
export class SessionStore {
  private readonly idleTtlMs: number;
  private readonly absoluteTtlMs: number;
  private readonly prefix: string;

  constructor(
    private readonly redis: Cluster,
    options: SessionStoreOptions = {},
  ) {
    this.idleTtlMs = options.idleTtlMs ?? 30 * 60_000;
    this.absoluteTtlMs = options.absoluteTtlMs ?? 12 * 60 * 60_000;
    this.prefix = options.prefix ?? 'session:';
  }

  /** Creates a session with a fresh id. Logging in always creates one (rotation): ids never carry over. */
  async create(user: SessionUser, now = Date.now()): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    const data: SessionData = {
      userId: user.userId,
      username: user.username,
      role: user.role,
      grants: user.grants,
      createdAt: now,
    };
    // Indexed first: a session that exists is always found by `destroyAllOf`.
    await this.redis.eval(INDEX_SESSION, 1, this.indexKey(user.userId), id, String(this.absoluteTtlMs));
    await this.redis.set(this.prefix + id, JSON.stringify(data), 'PX', Math.min(this.idleTtlMs, this.absoluteTtlMs));
    return id;
  }

  /** Ends every session of the user but `exceptId` (the caller's own, when it keeps it); returns how many ended. */
  async destroyAllOf(userId: string, exceptId?: string): Promise<number> {
    const ids = await this.redis.smembers(this.indexKey(userId));
    const ending = ids.filter((id) => id !== exceptId && isSessionId(id));
    // One key per session, each in its own slot: deleted one by one (pipelined by the cluster client).
    const deleted = await Promise.all(ending.map((id) => this.redis.del(this.prefix + id)));
    if (ending.length > 0) await this.redis.srem(this.indexKey(userId), ...ending);
    return deleted.reduce((n, d) => n + d, 0);
  }

  /**
   * Gives every live session of the user new grants, keeping each one's expiry (`SET … XX KEEPTTL`: a session that
   * ended meanwhile is not brought back).
   */
  async updateGrants(userId: string, grants: SessionUser['grants']): Promise<void> {
    const index = this.indexKey(userId);
    const ids = (await this.redis.smembers(index)).filter(isSessionId);
    await Promise.all(
      ids.map(async (id) => {
        const raw = await this.redis.get(this.prefix + id);
        if (!raw) {
          await this.redis.srem(index, id);
          return;
        }
        const data = { ...(JSON.parse(raw) as SessionData), grants };
        await this.redis.set(this.prefix + id, JSON.stringify(data), 'KEEPTTL', 'XX');
      }),
    );
  }

  /** Returns the session and extends its idle expiry, or `undefined` when it does not exist or expired. */
  async touch(id: string, now = Date.now()): Promise<SessionData | undefined> {
    if (!isSessionId(id)) return undefined;
    const raw = await this.redis.getex(this.prefix + id, 'PX', this.idleTtlMs);
    if (!raw) return undefined;
    const data = JSON.parse(raw) as SessionData;
    if (!Array.isArray(data.grants) || now >= data.createdAt + this.absoluteTtlMs) {
      await this.destroy(id);
      return undefined;
    }
    return data;
  }

  async destroy(id: string): Promise<void> {
    if (!isSessionId(id)) return;
    await this.redis.del(this.prefix + id);
  }

  private indexKey(userId: string): string {
    return `${this.prefix}user:${userId}`;
  }
}
