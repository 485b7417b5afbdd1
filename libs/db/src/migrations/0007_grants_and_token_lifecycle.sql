-- keyflow schema v7: access scoped by key prefix, token and account lifecycle, operations that belong to a user.
-- CockroachDB-compatible: only ADD COLUMN IF NOT EXISTS, JSONB, no triggers.

-- A user's grants: [{"prefix", "access": "read" | "write"}]. Users created before v7 could read and write every key;
-- they keep exactly that (write on ""), written out so that an admin sees and narrows it. New users get what the
-- admin who creates them gives (the API writes it explicitly).
ALTER TABLE users ADD COLUMN IF NOT EXISTS grants JSONB NOT NULL DEFAULT '[{"prefix": "", "access": "write"}]';
-- Set while the account is disabled: no login, no session, no token works.
ALTER TABLE users ADD COLUMN IF NOT EXISTS disabled_at TIMESTAMPTZ;
ALTER TABLE users ADD COLUMN IF NOT EXISTS password_changed_at TIMESTAMPTZ;

-- A token's own grants, a subset of its creator's when it was made; NULL: whatever its owner has (tokens made before
-- v7, and tokens made without "grants"). A token never allows more than its owner has now.
ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS grants JSONB;
ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS expires_at TIMESTAMPTZ;
-- Written at most once a minute per token and API instance: "last used", to the minute.
ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS last_used_at TIMESTAMPTZ;

-- The user whose request made the operation; only they (and admins) can look it up. NULL for operations recorded
-- before v7, and for the writes workers make themselves (expiry): admins only.
ALTER TABLE kv_operations ADD COLUMN IF NOT EXISTS owner_id UUID;
