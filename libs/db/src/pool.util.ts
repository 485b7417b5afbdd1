import { Pool, type PoolConfig } from 'pg';

export interface PoolOptions {
  /** Shown in `pg_stat_activity` and in log lines. */
  applicationName: string;
  max?: number;
  onError?: (err: Error) => void;
}

/**
 * A pool that fits behind HAProxy: idle connections are recycled after 10 s, far inside HAProxy's 1 h idle
 * timeout, so the pool never hands out a connection the proxy already closed.
 *
 * A socket error (for example HAProxy cutting sessions when it marks the primary down) must never crash the
 * process. pg-pool handles `error` only on idle clients: it removes its listener while a client is checked
 * out, and a connection cut between two queries of a transaction would then be an unhandled `error` event.
 * So every client gets a listener of its own for life. It only keeps the process alive: the query in flight
 * (or the next one) rejects with the error, which is where callers see it; idle errors reach `onError`.
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
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}
