-- keyflow schema v3: what dead-letter replay and tombstone compaction need. CockroachDB-compatible. Columns are
-- added here, indexed in 0004 and backfilled in 0005: a migration file runs as one implicit transaction, CockroachDB
-- cannot index or update a column in the transaction that adds it, and on PostgreSQL two migrators racing through
-- CREATE INDEX and UPDATE in one transaction can deadlock, which the migrator does not retry.

-- The operation that wrote the key's current state, and when the API accepted it. A dead-letter replay compares
-- them with the letter's operation: "was anything accepted after it applied since?" must still be answerable
-- after retention pruned the operations. NULL on rows last written before this version.
ALTER TABLE kv_entries ADD COLUMN IF NOT EXISTS last_op_id UUID;
ALTER TABLE kv_entries ADD COLUMN IF NOT EXISTS last_accepted_at TIMESTAMPTZ;

-- Set while a dead letter of the operation may exist (the workers set it whenever they record one, even on an
-- applied operation); cleared by `npm run dlq` once it removed the letter. Retention never deletes such a row,
-- and tombstone compaction keeps the tombstone of such a key.
ALTER TABLE kv_operations ADD COLUMN IF NOT EXISTS dead_lettered_at TIMESTAMPTZ;
-- Set by `npm run dlq -- replay`: the replayed operation may be applied only while its key is at this version
-- (0: the key never existed). Checked by the worker in the apply transaction.
ALTER TABLE kv_operations ADD COLUMN IF NOT EXISTS replay_at_version BIGINT;

-- What is left of a compacted tombstone: the key's last version and when it was deleted, found by a 64-bit hash
-- of the key (`keyHash`: the first 8 bytes of its SHA-256). A key without a row but with such a record is deleted
-- at that version, exactly as its tombstone said, so a key written again continues from it: versions stay gapless
-- and never repeat. Written by compaction, removed when the key is written again.
CREATE TABLE IF NOT EXISTS kv_compacted_tombstones (
  key_hash   BIGINT      NOT NULL PRIMARY KEY,
  version    BIGINT      NOT NULL,
  deleted_at TIMESTAMPTZ NOT NULL
);
