import type { Cluster } from 'ioredis';

export interface LoginThrottleOptions {
  /**
   * Attempts allowed per username from one client address within the window (a successful login from that address
   * resets the count). Other addresses keep their own count: a stranger's failures never lock the user out.
   */
  maxPerUser?: number;
  /** Attempts allowed per client address within the window (successful logins are not counted). */
  maxPerAddress?: number;
  windowMs?: number;
  prefix?: string;
}

export type ThrottleVerdict = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * Counts an attempt and returns [count, ms until the window ends]. The window starts with the first attempt and
 * is not extended by later ones, so a blocked caller knows exactly when to come back.
 */
const COUNT_ATTEMPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}`;

/** Takes one attempt back, if the window still runs: a DECR on an expired key would leave a counter with no TTL. */
const REFUND_ATTEMPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end
return 0`;

type ClusterWithScript = Cluster & {
  loginCountAttempt(key: string, windowMs: number): Promise<[number, number]>;
  loginRefundAttempt(key: string): Promise<number>;
};

/**
 * Login rate limiting shared by every API instance: fixed-window counters in the Redis cluster, one per
 * (username, client address) and one per client address. An attempt is counted before the password is checked, so
 * parallel guesses cannot slip past the limit; a successful login then clears its (username, address) counter and
 * takes itself back off its address's. A blocked pair also refuses its right password until the window ends (a
 * guesser must not learn when they hit it), but only from that address: counting per username alone let anyone lock
 * any account, the admin's included, with six bad logins every five minutes. A guesser with many addresses is
 * limited by each address's own counter.
 */
export class LoginThrottle {
  private readonly redis: ClusterWithScript;
  private readonly maxPerUser: number;
  private readonly maxPerAddress: number;
  private readonly windowMs: number;
  private readonly prefix: string;

  constructor(redis: Cluster, options: LoginThrottleOptions = {}) {
    redis.defineCommand('loginCountAttempt', { numberOfKeys: 1, lua: COUNT_ATTEMPT });
    redis.defineCommand('loginRefundAttempt', { numberOfKeys: 1, lua: REFUND_ATTEMPT });
    this.redis = redis as ClusterWithScript;
    this.maxPerUser = options.maxPerUser ?? 5;
    this.maxPerAddress = options.maxPerAddress ?? 50;
    this.windowMs = options.windowMs ?? 5 * 60_000;
    this.prefix = options.prefix ?? 'login:';
  }

  /** Counts one attempt for `username` from `address`; refused when the pair or the address is over its limit. */
  async attempt(username: string, address: string): Promise<ThrottleVerdict> {
    const [user, addr] = await Promise.all([
      this.redis.loginCountAttempt(this.userKey(username, address), this.windowMs),
      this.redis.loginCountAttempt(this.addressKey(address), this.windowMs),
    ]);
    const waits = [...(user[0] > this.maxPerUser ? [user[1]] : []), ...(addr[0] > this.maxPerAddress ? [addr[1]] : [])];
    if (!waits.length) return { allowed: true };
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(Math.max(...waits) / 1000)) };
  }

  /** After a successful login: the pair starts afresh, and the address is charged for failures only. */
  async succeeded(username: string, address: string): Promise<void> {
    await Promise.all([
      this.redis.del(this.userKey(username, address)),
      this.redis.loginRefundAttempt(this.addressKey(address)),
    ]);
  }

  private userKey(username: string, address: string): string {
    return `${this.prefix}user:${username.toLowerCase()}|${address}`;
  }

  private addressKey(address: string): string {
    return `${this.prefix}addr:${address}`;
  }
}
