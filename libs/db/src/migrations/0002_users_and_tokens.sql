-- keyflow schema v2: users and API tokens. CockroachDB-compatible: ids are UUIDs made by the application,
-- uniqueness through unique indexes, no triggers.

CREATE TABLE IF NOT EXISTS users (
  id            UUID        NOT NULL PRIMARY KEY,
  username      TEXT        NOT NULL,
  -- An argon2id PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash); the password itself is never stored.
  password_hash TEXT        NOT NULL,
  role          TEXT        NOT NULL,
  created_at    TIMESTAMPTZ NOT NULL,
  CONSTRAINT users_role_check CHECK (role IN ('admin', 'user'))
);

CREATE UNIQUE INDEX IF NOT EXISTS users_username_key ON users (username);

CREATE TABLE IF NOT EXISTS api_tokens (
  id         UUID        NOT NULL PRIMARY KEY,
  user_id    UUID        NOT NULL REFERENCES users (id),
  name       TEXT        NOT NULL,
  -- SHA-256 of the token, hex. Tokens are 256 random bits, so a fast hash is enough to make a leaked table useless.
  token_hash TEXT        NOT NULL,
  created_at TIMESTAMPTZ NOT NULL,
  revoked_at TIMESTAMPTZ
);

CREATE UNIQUE INDEX IF NOT EXISTS api_tokens_token_hash_key ON api_tokens (token_hash);
CREATE INDEX IF NOT EXISTS api_tokens_user_id_idx ON api_tokens (user_id);
