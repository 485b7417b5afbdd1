-- keyflow schema v1. CockroachDB-compatible: no SERIAL, no triggers, no advisory locks.

CREATE TABLE IF NOT EXISTS kv_entries (
  key        TEXT        NOT NULL PRIMARY KEY,
  -- NULL when the key is deleted: the row stays as a tombstone so the version keeps counting.
  value      JSONB,
  version    BIGINT      NOT NULL,
  deleted    BOOLEAN     NOT NULL DEFAULT false,
  updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS kv_operations (
  id          UUID        NOT NULL PRIMARY KEY,
  key         TEXT        NOT NULL,
  type        TEXT        NOT NULL,
  status      TEXT        NOT NULL,
  version     BIGINT,
  error       TEXT,
  accepted_at TIMESTAMPTZ NOT NULL,
  finished_at TIMESTAMPTZ NOT NULL,
  CONSTRAINT kv_operations_type_check CHECK (type IN ('put', 'delete')),
  CONSTRAINT kv_operations_status_check CHECK (status IN ('applied', 'conflict', 'failed'))
);

CREATE INDEX IF NOT EXISTS kv_operations_finished_at_idx ON kv_operations (finished_at);
CREATE INDEX IF NOT EXISTS kv_operations_key_idx ON kv_operations (key);
