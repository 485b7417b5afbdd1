/** SQL for the kv_operations table (finished operations only; accepted ones live in the queue). */
export const SELECT_OPERATION = `
SELECT id::TEXT AS id, key, type, status, version::TEXT AS version, error, accepted_at, finished_at,
       owner_id::TEXT AS owner_id
FROM kv_operations
WHERE id = $1::UUID`;

/**
 * What applyBatch needs of operations it is about to apply: outcome, the operator's replay check, and when it was
 * applied (an applied operation's `finished_at` is its batch's commit time, the `updated_at` it gave its key).
 */
export const SELECT_OPERATIONS_BY_ID = `
SELECT id::TEXT AS id, key, type, status, version::TEXT AS version, replay_at_version::TEXT AS replay_at_version,
       finished_at
FROM kv_operations
WHERE id = ANY($1::UUID[])`;

/** An operation as `npm run dlq` sees it: outcome, dead-letter mark, replay check. */
export const SELECT_DEAD_LETTER_STATE = `
SELECT id::TEXT AS id, key, status, version::TEXT AS version, dead_lettered_at,
       replay_at_version::TEXT AS replay_at_version
FROM kv_operations
WHERE id = $1::UUID`;

/**
 * Records a batch's finished operations in one statement, one array per column ($1 ids, $2 keys, $3 types, $4
 * statuses, $5 versions, $6 accepted-at, $8 owners; $7 the finish time of all), paired up by `unnest`. An operation recorded `failed` (dead-lettered)
 * may later be replayed by an operator and applied: that outcome replaces the failure (and its replay check is
 * spent). Nothing else is ever overwritten, so a redelivery can never change a recorded outcome. The dead-letter
 * mark stays: the letter may still exist (the tool publishes a replay before it removes the letter).
 */
export const RECORD_OPERATIONS = `
INSERT INTO kv_operations (id, key, type, status, version, error, accepted_at, finished_at, owner_id)
SELECT id::UUID, k, typ, st, ver, NULL, acc, $7::TIMESTAMPTZ, own
FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::BIGINT[], $6::TIMESTAMPTZ[], $8::UUID[])
  AS t (id, k, typ, st, ver, acc, own)
ON CONFLICT (id) DO UPDATE
SET status = excluded.status, version = excluded.version, error = excluded.error, finished_at = excluded.finished_at,
    replay_at_version = NULL, owner_id = COALESCE(kv_operations.owner_id, excluded.owner_id)
WHERE kv_operations.status = 'failed'`;

export const RECORD_FAILED = `
INSERT INTO kv_operations
  (id, key, type, status, version, error, accepted_at, finished_at, dead_lettered_at, owner_id)
VALUES ($1::UUID, $2, $3, 'failed', NULL, $4, $5::TIMESTAMPTZ, $6::TIMESTAMPTZ, $6::TIMESTAMPTZ, $7::UUID)
ON CONFLICT (id) DO UPDATE
SET dead_lettered_at = excluded.dead_lettered_at, owner_id = COALESCE(kv_operations.owner_id, excluded.owner_id),
    error = CASE WHEN kv_operations.replay_at_version IS NULL THEN kv_operations.error ELSE excluded.error END,
    finished_at = CASE WHEN kv_operations.replay_at_version IS NULL THEN kv_operations.finished_at ELSE excluded.finished_at END,
    replay_at_version = NULL`;

/**
 * `npm run dlq -- replay`: the operation may be applied only while its key is at version $7. Only an operation
 * without an outcome can be authorised (RETURNING gives no row otherwise); one the audit has not recorded yet is
 * recorded here, marked as dead-lettered. `finished_at` restarts, so retention keeps the record for a whole
 * period while the replay waits in its shard queue.
 */
export const AUTHORIZE_REPLAY = `
INSERT INTO kv_operations
  (id, key, type, status, version, error, accepted_at, finished_at, dead_lettered_at, replay_at_version)
VALUES ($1::UUID, $2, $3, 'failed', NULL, $4, $5::TIMESTAMPTZ, $6::TIMESTAMPTZ, $6::TIMESTAMPTZ, $7::BIGINT)
ON CONFLICT (id) DO UPDATE
SET replay_at_version = excluded.replay_at_version, finished_at = excluded.finished_at,
    dead_lettered_at = COALESCE(kv_operations.dead_lettered_at, excluded.dead_lettered_at)
WHERE kv_operations.status = 'failed'
RETURNING dead_lettered_at`;

/**
 * The tool removed the operation's dead letter: clear the mark, but only if it is still the one the tool read. A
 * newer mark means the operation was dead-lettered again meanwhile (a refused replay), and that letter exists.
 */
export const CLEAR_DEAD_LETTER_MARK = `
UPDATE kv_operations SET dead_lettered_at = NULL
WHERE id = $1::UUID AND dead_lettered_at = $2::TIMESTAMPTZ`;

/**
 * Removes finished operations older than the retention, a bounded number per call. Never one whose dead letter
 * may still exist: its record is what stops a replay from applying it twice (or over newer writes).
 */
export const DELETE_EXPIRED_OPERATIONS = `
DELETE FROM kv_operations
WHERE id IN (
  SELECT id FROM kv_operations WHERE finished_at < $1::TIMESTAMPTZ AND dead_lettered_at IS NULL LIMIT $2
)`;
