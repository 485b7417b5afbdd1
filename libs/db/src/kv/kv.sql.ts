/**
 * SQL for the kv_entries table. Every statement here runs on both PostgreSQL and CockroachDB:
 * `ANY($1::TEXT[])`, `FOR UPDATE`, multi-row `INSERT … ON CONFLICT … DO UPDATE`, `::TEXT` on JSONB.
 * Values are selected as JSON text so the API can answer without parsing and re-serialising them.
 */
export const SELECT_ENTRY = `
SELECT key, value::TEXT AS value_json, version::TEXT AS version, deleted, updated_at
FROM kv_entries
WHERE key = $1`;

export const SELECT_ENTRIES_FOR_UPDATE = `
SELECT key, value::TEXT AS value_json, version::TEXT AS version, deleted, updated_at
FROM kv_entries
WHERE key = ANY($1::TEXT[])
FOR UPDATE`;

/** Built per batch: one `($n, $n+1::JSONB, $n+2::BIGINT, $n+3::BOOLEAN, $n+4::TIMESTAMPTZ)` tuple per key. */
export function upsertEntries(rows: number): string {
  const tuples = Array.from({ length: rows }, (_, i) => {
    const p = i * 5;
    return `($${p + 1}, $${p + 2}::JSONB, $${p + 3}::BIGINT, $${p + 4}::BOOLEAN, $${p + 5}::TIMESTAMPTZ)`;
  });
  return `
INSERT INTO kv_entries (key, value, version, deleted, updated_at)
VALUES ${tuples.join(',\n       ')}
ON CONFLICT (key) DO UPDATE
SET value = excluded.value, version = excluded.version, deleted = excluded.deleted, updated_at = excluded.updated_at`;
}
