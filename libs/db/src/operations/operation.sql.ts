/** SQL for the kv_operations table (finished operations only; accepted ones live in the queue). */
export const SELECT_OPERATION = `
SELECT id::TEXT AS id, key, type, status, version::TEXT AS version, error, accepted_at, finished_at
FROM kv_operations
WHERE id = $1::UUID`;

export const SELECT_OPERATIONS_BY_ID = `
SELECT id::TEXT AS id, key, type, status, version::TEXT AS version, error, accepted_at, finished_at
FROM kv_operations
WHERE id = ANY($1::UUID[])`;

/**
 * Records finished operations, one `($n::UUID, …)` tuple each. An operation recorded `failed` (dead-lettered)
 * may later be replayed by an operator and applied: that outcome replaces the failure. Nothing else is ever
 * overwritten, so a redelivery can never change a recorded outcome.
 */
export function recordOperations(rows: number): string {
  const tuples = Array.from({ length: rows }, (_, i) => {
    const p = i * 8;
    return `($${p + 1}::UUID, $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5}::BIGINT, $${p + 6}, $${p + 7}::TIMESTAMPTZ, $${p + 8}::TIMESTAMPTZ)`;
  });
  return `
INSERT INTO kv_operations (id, key, type, status, version, error, accepted_at, finished_at)
VALUES ${tuples.join(',\n       ')}
ON CONFLICT (id) DO UPDATE
SET status = excluded.status, version = excluded.version, error = excluded.error, finished_at = excluded.finished_at
WHERE kv_operations.status = 'failed'`;
}

/** Records a dead-lettered operation unless it already has an outcome. */
export const RECORD_FAILED = `
INSERT INTO kv_operations (id, key, type, status, version, error, accepted_at, finished_at)
VALUES ($1::UUID, $2, $3, 'failed', NULL, $4, $5::TIMESTAMPTZ, $6::TIMESTAMPTZ)
ON CONFLICT (id) DO NOTHING`;

/** Removes finished operations older than the retention, a bounded number per call. */
export const DELETE_EXPIRED_OPERATIONS = `
DELETE FROM kv_operations
WHERE id IN (SELECT id FROM kv_operations WHERE finished_at < $1::TIMESTAMPTZ LIMIT $2)`;
