-- keyflow schema v6: keys with a time to live. `expires_at` is NULL for a key that never expires; a write without a
-- TTL clears it. Workers find what has expired through the partial index and delete it through the write path.
ALTER TABLE kv_entries ADD COLUMN IF NOT EXISTS expires_at TIMESTAMPTZ;

CREATE INDEX IF NOT EXISTS kv_entries_expires_at_idx ON kv_entries (expires_at) WHERE expires_at IS NOT NULL;
