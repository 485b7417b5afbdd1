/** SQL for the users and api_tokens tables (schema v2; grants and lifecycle since v7). */
const USER_COLUMNS = `id::TEXT AS id, username, role, grants, disabled_at, created_at`;

export const INSERT_USER = `
INSERT INTO users (id, username, password_hash, role, created_at, grants)
VALUES ($1::UUID, $2, $3, $4, $5::TIMESTAMPTZ, $6::JSONB)`;

export const SELECT_USER_BY_USERNAME = `
SELECT ${USER_COLUMNS}, password_hash
FROM users
WHERE username = $1`;

export const SELECT_USER_BY_ID = `
SELECT ${USER_COLUMNS}, password_hash
FROM users
WHERE id = $1::UUID`;

export const SELECT_USERS = `
SELECT ${USER_COLUMNS}
FROM users
ORDER BY username
LIMIT $1`;

export const UPDATE_USER_GRANTS = `
UPDATE users SET grants = $2::JSONB
WHERE username = $1
RETURNING ${USER_COLUMNS}`;

/** Disabling keeps the first disabling time; enabling clears it. */
export const UPDATE_USER_DISABLED = `
UPDATE users SET disabled_at = CASE WHEN $2::BOOL THEN COALESCE(disabled_at, $3::TIMESTAMPTZ) ELSE NULL END
WHERE username = $1
RETURNING ${USER_COLUMNS}`;

export const UPDATE_USER_PASSWORD = `
UPDATE users SET password_hash = $2, password_changed_at = $3::TIMESTAMPTZ
WHERE id = $1::UUID`;

export const INSERT_TOKEN = `
INSERT INTO api_tokens (id, user_id, name, token_hash, created_at, grants, expires_at)
VALUES ($1::UUID, $2::UUID, $3, $4, $5::TIMESTAMPTZ, $6::JSONB, $7::TIMESTAMPTZ)`;

/** The owner of a token that is unrevoked and unexpired at $2, whose owner is not disabled. */
export const SELECT_ACTIVE_TOKEN = `
SELECT t.id::TEXT AS token_id, u.id::TEXT AS user_id, u.username, u.role, u.grants AS user_grants,
       t.grants AS token_grants, t.expires_at
FROM api_tokens AS t
JOIN users AS u ON u.id = t.user_id
WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2::TIMESTAMPTZ)
  AND u.disabled_at IS NULL`;

/** A user's unrevoked tokens, newest first; expired ones too, so that their owner sees them run out. */
export const SELECT_TOKENS_OF_USER = `
SELECT id::TEXT AS id, name, grants, created_at, expires_at, last_used_at
FROM api_tokens
WHERE user_id = $1::UUID AND revoked_at IS NULL
ORDER BY created_at DESC, id
LIMIT $2`;

/** The hashes a shared cache may hold for a user's tokens (to drop them there when the user changes). */
export const SELECT_TOKEN_HASHES_OF_USER = `
SELECT token_hash FROM api_tokens WHERE user_id = $1::UUID AND revoked_at IS NULL`;

/** "Last used", to the minute: a token used within the last minute is not written again. */
export const TOUCH_TOKEN = `
UPDATE api_tokens SET last_used_at = $2::TIMESTAMPTZ
WHERE id = $1::UUID AND (last_used_at IS NULL OR last_used_at < $2::TIMESTAMPTZ - INTERVAL '1 minute')`;

/**
 * Revokes a token; `$2` NULL lets an admin revoke anyone's. Idempotent: revoking a revoked token keeps its first
 * revocation time and still returns the hash, so a caller whose cache eviction failed can simply retry.
 */
export const REVOKE_TOKEN = `
UPDATE api_tokens
SET revoked_at = COALESCE(revoked_at, $3::TIMESTAMPTZ)
WHERE id = $1::UUID AND ($2::UUID IS NULL OR user_id = $2::UUID)
RETURNING token_hash`;
