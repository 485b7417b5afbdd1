-- keyflow schema v4: indexes for the columns 0003 added (see there why they come separately).

-- Compaction looks for old tombstones only.
CREATE INDEX IF NOT EXISTS kv_entries_tombstones_idx ON kv_entries (updated_at) WHERE deleted;

-- Compaction asks "has this key a dead letter?"; only a few operations ever have one.
CREATE INDEX IF NOT EXISTS kv_operations_dead_lettered_key_idx ON kv_operations (key) WHERE dead_lettered_at IS NOT NULL;
