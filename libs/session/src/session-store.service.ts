import { randomBytes } from 'node:crypto';
import type { Cluster } from 'ioredis';

/** Who a session belongs to, as it was at login. */
export interface SessionUser {
  userId: string;
  username: string;
  role: string;
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
 * Sessions in the Redis cluster, so every API instance accepts every session without sticky routing.
 * Ids are 256 random bits (base64url). Each session is one key whose TTL is the idle timeout, pushed forward on
 * every use by the same command that reads it (GETEX: one round trip per request); the absolute limit is
 * checked against `createdAt` on each read.
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
      createdAt: now,
    };
    await this.redis.set(this.prefix + id, JSON.stringify(data), 'PX', Math.min(this.idleTtlMs, this.absoluteTtlMs));
    return id;
  }

  /** Returns the session and extends its idle expiry, or `undefined` when it does not exist or expired. */
  async touch(id: string, now = Date.now()): Promise<SessionData | undefined> {
    if (!isSessionId(id)) return undefined;
    const raw = await this.redis.getex(this.prefix + id, 'PX', this.idleTtlMs);
    if (!raw) return undefined;
    const data = JSON.parse(raw) as SessionData;
    if (now >= data.createdAt + this.absoluteTtlMs) {
      await this.destroy(id);
      return undefined;
    }
    return data;
  }

  async destroy(id: string): Promise<void> {
    if (!isSessionId(id)) return;
    await this.redis.del(this.prefix + id);
  }
}
