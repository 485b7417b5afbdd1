/**
 * SQL for backup and restore (`BackupRepository`). Every statement runs on PostgreSQL and CockroachDB alike; only how
 * the snapshot transaction begins differs (`SNAPSHOT_BEGIN`).
 */

/**
 * How a backup's one read-only snapshot begins, per database:
 * - PostgreSQL: REPEATABLE READ takes one snapshot at the transaction's first statement and reads every later
 *   statement from it; READ ONLY because nothing may be written. A read-only REPEATABLE READ transaction never fails
 *   with 40001, so a stream that already started is never cut by a serialization failure.
 * - CockroachDB: its transactions are SERIALIZABLE (and a long serializable reader can be forced to restart, which a
 *   stream cannot), so the snapshot is a historical read at one fixed timestamp, `AS OF SYSTEM TIME`, taken a
 *   millisecond before the statement: such a transaction is read-only, blocks no writer, is never restarted, and
 *   sees exactly what had committed by then. It can run as long as the garbage-collection window (`gc.ttlseconds`).
 */
export const SNAPSHOT_BEGIN = {
  postgres: 'BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY',
  cockroach: "BEGIN AS OF SYSTEM TIME '-1ms'",
} as const;

export const SELECT_SERVER_VERSION = 'SELECT version() AS version';

/** The snapshot's time, by the database's clock: keys that expired by then are not in it. */
export const SELECT_SNAPSHOT_TIME = 'SELECT now() AS taken_at';

/**
 * How many keys the snapshot holds: live (not deleted), not expired at $1, under the prefix $2 ('' for all). A prefix
 * is matched with `left()` (both databases have it; LIKE would need its wildcards escaped), and `key >= $2` lets the
 * primary key's index start the scan at the prefix.
 */
export const COUNT_LIVE_ENTRIES = `
SELECT count(*)::TEXT AS keys
FROM kv_entries
WHERE key >= $2 AND left(key, char_length($2)) = $2
  AND NOT deleted AND (expires_at IS NULL OR expires_at > $1::TIMESTAMPTZ)`;

/**
 * One page: live keys after $1 (keyset paging on the primary key, in the database's key order), not expired at $2,
 * under the prefix $4, at most $3 of them. The value comes as JSON text, exactly as stored.
 */
export const SELECT_LIVE_ENTRIES_PAGE = `
SELECT key, value::TEXT AS value_json, version::TEXT AS version, updated_at, expires_at
FROM kv_entries
WHERE key > $1 AND key >= $4 AND left(key, char_length($4)) = $4
  AND NOT deleted AND (expires_at IS NULL OR expires_at > $2::TIMESTAMPTZ)
ORDER BY key
LIMIT $3`;

/** Which of these key hashes have a compacted tombstone: such a key existed, and is not restored. */
export const SELECT_COMPACTED_HASHES = `
SELECT key_hash::TEXT AS key_hash
FROM kv_compacted_tombstones
WHERE key_hash = ANY($1::BIGINT[])`;

/**
 * Restores backup lines ($1, each a JSON object text `{"key","value","version","updatedAt","expiresAt"?}`) as live
 * keys, only where the key has no row at all (not even a tombstone): `ON CONFLICT DO NOTHING`. The value is taken
 * from the line by the database's own JSON parser (`->'value'`), so it is stored exactly as the line wrote it, never
 * re-serialised by the API. Returns what was inserted, for the cache.
 */
export const INSERT_RESTORED_ENTRIES = `
INSERT INTO kv_entries (key, value, version, deleted, updated_at, expires_at)
SELECT l->>'key', l->'value', (l->>'version')::BIGINT, false, (l->>'updatedAt')::TIMESTAMPTZ,
       (l->>'expiresAt')::TIMESTAMPTZ
FROM (SELECT line::JSONB AS l FROM unnest($1::TEXT[]) AS t (line)) AS lines
ON CONFLICT (key) DO NOTHING
RETURNING key, value::TEXT AS value_json, version::TEXT AS version, updated_at, expires_at`;
