import type { Pool, PoolClient } from 'pg';
import { isRetryableTransactionError } from './db-error.util';

export type IsolationLevel = 'serializable' | 'repeatable read';

export interface TransactionOptions {
  /**
   * SERIALIZABLE unless a caller has a reason (see KvRepository.applyBatch). CockroachDB runs REPEATABLE READ
   * transactions as SERIALIZABLE unless the cluster enables that level, so either is safe to ask for there.
   */
  isolation?: IsolationLevel;
  /** Attempts in all, the first included. */
  maxAttempts?: number;
  /** First backoff; it doubles per attempt, with full jitter, capped at 1 s. */
  baseDelayMs?: number;
  /** Called before each retry, for logs and metrics. */
  onRetry?: (attempt: number, err: unknown) => void;
}

export class TransactionRetriesExhaustedError extends Error {
  constructor(
    readonly attempts: number,
    readonly lastError: unknown,
  ) {
    super(
      `transaction failed after ${attempts} attempts: ${lastError instanceof Error ? lastError.message : String(lastError)}`,
    );
    this.name = 'TransactionRetriesExhaustedError';
  }
  /** Keeps the SQLSTATE visible to callers that classify errors. */
  get code(): string | undefined {
    return (this.lastError as { code?: string } | null)?.code;
  }
}

/**
 * The one way keyflow runs a transaction. It runs `work` in a SERIALIZABLE transaction (CockroachDB's default,
 * and the strictest PostgreSQL has) unless `isolation` says otherwise, and retries the whole of it when the
 * database reports SQLSTATE 40001 (or a deadlock), which CockroachDB raises under contention and expects clients
 * to retry. `work` must therefore be safe to run more than once: no side effects outside the transaction.
 */
export async function withTransaction<T>(
  pool: Pool,
  work: (client: PoolClient) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const maxAttempts = options.maxAttempts ?? 8;
  const baseDelayMs = options.baseDelayMs ?? 10;
  const begin = `BEGIN ISOLATION LEVEL ${(options.isolation ?? 'serializable').toUpperCase()}`;
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    let broken = false;
    try {
      await client.query(begin);
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      if (!isRetryableTransactionError(err)) throw err;
      if (attempt >= maxAttempts) throw new TransactionRetriesExhaustedError(attempt, err);
      options.onRetry?.(attempt, err);
      const cap = Math.min(1_000, baseDelayMs * 2 ** (attempt - 1));
      await new Promise((resolve) => setTimeout(resolve, Math.random() * cap));
    } finally {
      client.release(broken);
    }
  }
}
