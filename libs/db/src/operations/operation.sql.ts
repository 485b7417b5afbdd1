/** SQL for the kv_operations table (finished operations only; accepted ones live in the queue). */
export const SELECT_OPERATION = `
SELECT id::TEXT AS id, key, type, status, version::TEXT AS version, error, accepted_at, finished_at
FROM kv_operations
WHERE id = $1::UUID`;

export const SELECT_OPERATIONS_BY_ID = `
SELECT id::TEXT AS id, key, type, status, version::TEXT AS version, error, accepted_at, finished_at
FROM kv_operations
WHERE id = ANY($1::UUID[])`;

/** One `($n::UUID, $n+1, $n+2, $n+3, $n+4::BIGINT, $n+5, $n+6::TIMESTAMPTZ, $n+7::TIMESTAMPTZ)` tuple per operation. */
export function insertOperations(rows: number): string {
  const tuples = Array.from({ length: rows }, (_, i) => {
    const p = i * 8;
    return `($${p + 1}::UUID, $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5}::BIGINT, $${p + 6}, $${p + 7}::TIMESTAMPTZ, $${p + 8}::TIMESTAMPTZ)`;
  });
  return `
INSERT INTO kv_operations (id, key, type, status, version, error, accepted_at, finished_at)
VALUES ${tuples.join(',\n       ')}
ON CONFLICT (id) DO NOTHING`;
}
