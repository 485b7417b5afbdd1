-- keyflow schema v5: before v3 nothing said whether a failed operation's dead letter still existed. Assume it does,
-- so retention keeps the record until `npm run dlq` removes the letter (replay or purge). Failed operations are few.
UPDATE kv_operations SET dead_lettered_at = finished_at WHERE status = 'failed' AND dead_lettered_at IS NULL;
