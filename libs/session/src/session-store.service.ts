import { randomBytes } from 'node:crypto';
import type { Cluster } from 'ioredis';

/** Who a session belongs to, as it was at login. */
export interface SessionUser {
  userId: string;
  username: string;
  role: string;
}

export interface SessionData extends SessionUser {
  /** Epoch ms. */
  createdAt: number;
  lastSeenAt: number;
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
 * Sessions in the Redis cluster, so every API instance accepts every session without sticky routing.
 * Ids are 256 random bits (base64url); the store keeps one hash per session whose TTL is the sooner of the
 * idle and the absolute expiry, refreshed on use.
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

  /** The whole lifetime of a session, for the cookie's Max-Age. */
  get absoluteTtlSeconds(): number {
    return Math.floor(this.absoluteTtlMs / 1000);
  }

  /** Creates a session with a fresh id. Logging in always creates one (rotation): ids never carry over. */
  async create(user: SessionUser, now = Date.now()): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    const data: SessionData = {
      userId: user.userId,
      username: user.username,
      role: user.role,
      createdAt: now,
      lastSeenAt: now,
    };
    await this.redis.set(this.prefix + id, JSON.stringify(data), 'PX', this.ttl(data, now));
    return id;
  }

  /** Returns the session and extends its idle expiry, or `undefined` when it does not exist or expired. */
  async touch(id: string, now = Date.now()): Promise<SessionData | undefined> {
    if (!isSessionId(id)) return undefined;
    const raw = await this.redis.get(this.prefix + id);
    if (!raw) return undefined;
    const data = JSON.parse(raw) as SessionData;
    const ttl = this.ttl(data, now);
    if (ttl <= 0) {
      await this.destroy(id);
      return undefined;
    }
    const touched = { ...data, lastSeenAt: now };
    await this.redis.set(this.prefix + id, JSON.stringify(touched), 'PX', ttl, 'XX');
    return touched;
  }

  async destroy(id: string): Promise<void> {
    if (!isSessionId(id)) return;
    await this.redis.del(this.prefix + id);
  }

  private ttl(data: SessionData, now: number): number {
    return Math.min(this.idleTtlMs, data.createdAt + this.absoluteTtlMs - now);
  }
}
