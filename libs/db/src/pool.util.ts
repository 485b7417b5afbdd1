import { Pool, type PoolConfig } from 'pg';

export interface PoolOptions {
  /** Shown in `pg_stat_activity` and in log lines. */
  applicationName: string;
  max?: number;
  onError?: (err: Error) => void;
}

/**
 * A pool that fits behind HAProxy: idle connections are recycled after 10 s, far inside HAProxy's 1 h idle
 * timeout, so the pool never hands out a connection the proxy already closed. An idle client's socket error
 * (for example HAProxy marking the primary down) must not crash the process, so `error` is always handled.
 */
export function createPool(connectionString: string, options: PoolOptions): Pool {
  const config: PoolConfig = {
    connectionString,
    application_name: options.applicationName,
    max: options.max ?? 10,
    idleTimeoutMillis: 10_000,
    connectionTimeoutMillis: 3_000,
    maxLifetimeSeconds: 300,
    keepAlive: true,
  };
  const pool = new Pool(config);
  pool.on('error', (err) => options.onError?.(err));
  return pool;
}
