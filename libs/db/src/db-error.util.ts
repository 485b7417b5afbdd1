/** SQLSTATE 40001: serialization failure, CockroachDB's "restart transaction". Always safe to retry. */
export const SERIALIZATION_FAILURE = '40001';
const DEADLOCK_DETECTED = '40P01';

const TRANSIENT_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND']);

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function isRetryableTransactionError(err: unknown): boolean {
  const code = sqlState(err);
  return code === SERIALIZATION_FAILURE || code === DEADLOCK_DETECTED;
}

/**
 * Errors worth retrying the same work later: the connection or the server is (temporarily) unavailable.
 * Class 08 (connection exception), 53 (insufficient resources), 57P0x (operator intervention, e.g. the
 * server shutting down or a replica being promoted), 40001 after the retry budget, and socket errors.
 */
export function isTransientDbError(err: unknown): boolean {
  const code = sqlState(err);
  if (code && TRANSIENT_NODE_CODES.has(code)) return true;
  if (code && (code.startsWith('08') || code.startsWith('53') || code.startsWith('57P') || code === '25006'))
    return true;
  if (isRetryableTransactionError(err)) return true;
  const message = err instanceof Error ? err.message : '';
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|the database system is (starting up|shutting down)/i.test(
    message,
  );
}
