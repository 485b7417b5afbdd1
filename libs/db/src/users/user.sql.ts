/** SQL for the users and api_tokens tables (schema v2). */
export const INSERT_USER = `
INSERT INTO users (id, username, password_hash, role, created_at)
VALUES ($1::UUID, $2, $3, $4, $5::TIMESTAMPTZ)`;

export const SELECT_USER_BY_USERNAME = `
SELECT id::TEXT AS id, username, password_hash, role, created_at
FROM users
WHERE username = $1`;

export const INSERT_TOKEN = `
INSERT INTO api_tokens (id, user_id, name, token_hash, created_at)
VALUES ($1::UUID, $2::UUID, $3, $4, $5::TIMESTAMPTZ)`;

/** The owner of an unrevoked token. */
export const SELECT_ACTIVE_TOKEN = `
SELECT t.id::TEXT AS token_id, u.id::TEXT AS user_id, u.username, u.role
FROM api_tokens AS t
JOIN users AS u ON u.id = t.user_id
WHERE t.token_hash = $1 AND t.revoked_at IS NULL`;

/** A user's tokens, newest first, revoked ones too (they show when they were revoked); never their hashes. */
export const SELECT_TOKENS_OF_USER = `
SELECT id::TEXT AS id, name, created_at, revoked_at
FROM api_tokens
WHERE user_id = $1::UUID
ORDER BY created_at DESC, id
LIMIT $2`;

/**
 * Revokes a token; `$2` NULL lets an admin revoke anyone's. Idempotent: revoking a revoked token keeps its first
 * revocation time and still returns the hash, so a caller whose cache eviction failed can simply retry.
 */
export const REVOKE_TOKEN = `
UPDATE api_tokens
SET revoked_at = COALESCE(revoked_at, $3::TIMESTAMPTZ)
WHERE id = $1::UUID AND ($2::UUID IS NULL OR user_id = $2::UUID)
RETURNING token_hash`;
