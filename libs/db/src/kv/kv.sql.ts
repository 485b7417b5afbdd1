/**
 * SQL for the kv_entries table. Every statement here runs on both PostgreSQL and CockroachDB:
 * `ANY($1::TEXT[])`, `FOR UPDATE`, multi-row `INSERT … ON CONFLICT … DO UPDATE`, `::TEXT` on JSONB.
 * Values are selected as JSON text so the API can answer without parsing and re-serialising them.
 */
export const SELECT_ENTRY = `
SELECT key, value::TEXT AS value_json, version::TEXT AS version, deleted, updated_at, expires_at
FROM kv_entries
WHERE key = $1`;

/** A key with the operation that wrote its current state (for dead-letter replay); always read on the primary. */
export const SELECT_LAST_WRITE = `
SELECT key, value::TEXT AS value_json, version::TEXT AS version, deleted, updated_at, expires_at,
       last_op_id::TEXT AS last_op_id, last_accepted_at
FROM kv_entries
WHERE key = $1`;

export const SELECT_ENTRIES_FOR_UPDATE = `
SELECT key, value::TEXT AS value_json, version::TEXT AS version, deleted, updated_at, expires_at,
       last_op_id::TEXT AS last_op_id, last_accepted_at
FROM kv_entries
WHERE key = ANY($1::TEXT[])
FOR UPDATE`;

/**
 * Writes a batch's keys in one statement whatever the batch's size: one array per column, `unnest` pairs them up
 * into rows. The text never changes, so it is prepared once per connection (`APPLY_STATEMENTS`). Values and
 * operation ids travel as TEXT and are cast in the query (CockroachDB has no JSONB arrays before 23.1).
 * $1 keys, $2 values as JSON text (NULL for a tombstone), $3 versions, $4 deleted, $5 updated-at, $6 last operation
 * ids, $7 their accepted-at times, $8 expiry times (NULL: the key never expires; always NULL for a tombstone, so the
 * partial index `kv_entries_expires_at_idx` holds live keys with a time to live only).
 */
export const UPSERT_ENTRIES = `
INSERT INTO kv_entries (key, value, version, deleted, updated_at, last_op_id, last_accepted_at, expires_at)
SELECT k, v::JSONB, ver, del, upd, op::UUID, acc, exp
FROM unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::BOOLEAN[], $5::TIMESTAMPTZ[], $6::TEXT[], $7::TIMESTAMPTZ[],
            $8::TIMESTAMPTZ[])
  AS t (k, v, ver, del, upd, op, acc, exp)
ON CONFLICT (key) DO UPDATE
SET value = excluded.value, version = excluded.version, deleted = excluded.deleted, updated_at = excluded.updated_at,
    last_op_id = excluded.last_op_id, last_accepted_at = excluded.last_accepted_at, expires_at = excluded.expires_at`;

/**
 * Live keys whose time to live ran out by $1, for the worker's expiry sweeper: through the partial index
 * `kv_entries_expires_at_idx` (only rows with an expiry are in it), in (expires_at, key) order from the keyset cursor
 * ($2, $3) on, at most $4. `expires_at >= $2` bounds the index range; the rest of the cursor only skips the keys of
 * its own instant already seen. Read without a lock: a row that changes meanwhile is caught by the expiry delete's
 * version condition when it is applied.
 */
export const SELECT_EXPIRED = `
SELECT key, version::TEXT AS version, expires_at
FROM kv_entries
WHERE expires_at IS NOT NULL AND expires_at <= $1::TIMESTAMPTZ AND NOT deleted
  AND expires_at >= $2::TIMESTAMPTZ AND (expires_at > $2::TIMESTAMPTZ OR key > $3::TEXT)
ORDER BY expires_at, key
LIMIT $4`;

/** Compacted tombstones of keys that have no row (see `keyHash`). */
export const SELECT_COMPACTED_TOMBSTONES = `
SELECT key_hash::TEXT AS key_hash, version::TEXT AS version, deleted_at
FROM kv_compacted_tombstones
WHERE key_hash = ANY($1::BIGINT[])`;

/** A key written again is a row again: its compacted tombstone goes, in the same transaction. */
export const DELETE_COMPACTED_TOMBSTONES = `
DELETE FROM kv_compacted_tombstones
WHERE key_hash = ANY($1::BIGINT[])`;

/**
 * Tombstones old enough to compact, locked: deleted before the cut-off, and no operation of the key has a dead
 * letter (a replay must still see that the key was deleted after it). Oldest first, a bounded number.
 */
export const SELECT_COMPACTABLE_TOMBSTONES = `
SELECT e.key, e.version::TEXT AS version, e.updated_at
FROM kv_entries e
WHERE e.deleted AND e.updated_at < $1::TIMESTAMPTZ
  AND NOT EXISTS (SELECT 1 FROM kv_operations o WHERE o.key = e.key AND o.dead_lettered_at IS NOT NULL)
ORDER BY e.updated_at
LIMIT $2
FOR UPDATE`;

/**
 * Records compacted tombstones, one `($n::BIGINT, $n+1::BIGINT, $n+2::TIMESTAMPTZ)` tuple per key hash. On a hash
 * already recorded (two keys sharing one, or a record left behind) the higher version wins: never a repeated version.
 */
export function recordCompactedTombstones(rows: number): string {
  const tuples = Array.from(
    { length: rows },
    (_, i) => `($${i * 3 + 1}::BIGINT, $${i * 3 + 2}::BIGINT, $${i * 3 + 3}::TIMESTAMPTZ)`,
  );
  return `
INSERT INTO kv_compacted_tombstones (key_hash, version, deleted_at)
VALUES ${tuples.join(',\n       ')}
ON CONFLICT (key_hash) DO UPDATE
SET version = GREATEST(kv_compacted_tombstones.version, excluded.version),
    deleted_at = GREATEST(kv_compacted_tombstones.deleted_at, excluded.deleted_at)`;
}

/** Deletes the tombstones the same transaction selected (and locked); the conditions are repeated as a guard. */
export const DELETE_TOMBSTONES = `
DELETE FROM kv_entries
WHERE key = ANY($1::TEXT[]) AND deleted AND updated_at < $2::TIMESTAMPTZ`;
